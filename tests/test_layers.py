"""The layer contract (pyproject.toml, [tool.importlinter]), checked by import-linter."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_layers_point_one_way() -> None:
    # The command line, as a developer runs it (``lint-imports``): it sets up the
    # configuration readers that the Python API leaves to its caller.
    done = subprocess.run(
        [sys.executable, "-c", "from importlinter.cli import lint_imports_command as c; c()"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Contracts: 2 kept, 0 broken." in done.stdout


def test_the_contract_names_every_db_module() -> None:
    """db.model may import no other db module: the contract lists them all."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (leaf,) = [
        c
        for c in config["tool"]["importlinter"]["contracts"]
        if c.get("source_modules") == ["db.model"]
    ]
    modules = {
        f"db.{p.stem}" for p in (ROOT / "db").glob("*.py") if p.stem not in ("__init__", "model")
    }
    assert modules <= set(leaf["forbidden_modules"])
