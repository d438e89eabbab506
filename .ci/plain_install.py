"""A plain install runs the bot on its embedded PostgreSQL (issue 11).

Usage: ``python .ci/plain_install.py PLAIN_PYTHON`` where PLAIN_PYTHON is the
interpreter of a fresh venv made with ``pip install .`` (no extra, not
editable). This script runs the fake Discord and fake Clash API (from tests/,
with the test venv), starts ``PLAIN_PYTHON -m bot`` from an empty directory
with DATABASE_URL unset, answers one /player through it, stops it with
SIGTERM and checks it exited 0 with no warnings and no traceback.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.coc_api import make_player  # noqa: E402
from tests.harness import GUILD_ID, fakes, opt  # noqa: E402


async def main(python: str) -> int:
    async with fakes() as (discord, coc):
        coc.set_player(make_player("#9P9PRYQ0", name="Plain Install"))
        with tempfile.TemporaryDirectory() as home:
            env = {
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("DISCORD_", "COC_", "DATABASE_", "PYTHON"))
            }
            env.update(
                DISCORD_TOKEN=discord.token,
                DISCORD_GUILD_ID=str(GUILD_ID),
                DISCORD_API_BASE_URL=discord.api_base,
                DISCORD_GATEWAY_URL=discord.gateway_url,
                COC_TOKENS="test-token",
                COC_API_BASE_URL=coc.base_url,
                DATA_DIR=str(Path(home) / "data"),
            )
            log_path = Path(home) / "bot.log"
            with open(log_path, "wb") as log:  # noqa: ASYNC230 - a log file handed to the child
                # cwd is the empty directory: the installed package runs, not this checkout.
                proc = await asyncio.create_subprocess_exec(
                    python, "-m", "bot", cwd=home, env=env, stdout=log, stderr=log
                )
            try:
                await asyncio.wait_for(discord.ready.wait(), 90)
                await discord.wait_synced(GUILD_ID, timeout=30)
                reply = await (
                    await discord.interact("player", [opt("tag", "#9P9PRYQ0")])
                ).wait_response()
                assert reply.embeds[0]["title"].startswith("Plain Install"), reply.raw
            finally:
                proc.send_signal(signal.SIGTERM)
                code = await asyncio.wait_for(proc.wait(), 30)
            out = log_path.read_text(errors="replace")
            print(out)
            assert code == 0, f"exit {code}"
            assert "embedded PostgreSQL ready" in out, "the embedded server did not start"
            for noise in ("Traceback", "Warning", "WARNING"):
                assert noise not in out, f"{noise!r} in the log"
    print("OK: a plain install starts on the embedded database, answers and stops cleanly")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1])))
