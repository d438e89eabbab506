"""Database access: the pool, migrations, the embedded server and every SQL query."""
