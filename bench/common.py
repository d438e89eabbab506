"""Shared bits for benchmarks: a database to run on, and a result file."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import socket
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

from bot.settings import Settings, load_settings
from db.embedded import EmbeddedPostgres

RESULTS = Path(__file__).resolve().parent / "results"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def database(tcp: bool = True) -> Iterator[dict[str, str]]:
    """``{"socket": dsn, "tcp": dsn}`` on BENCH_DATABASE_URL or a fresh embedded server."""
    url = os.environ.get("BENCH_DATABASE_URL")
    if url:
        yield {"tcp": url}
        return
    with tempfile.TemporaryDirectory(prefix="cocbench-") as tmp:
        server = EmbeddedPostgres(Path(tmp), tcp_port=free_port() if tcp else None)
        dsn = asyncio.run(server.start())
        try:
            dsns = {"socket": dsn}
            if server.tcp_dsn:
                dsns["tcp"] = server.tcp_dsn
            yield dsns
        finally:
            server.stop()


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, {cpu}, "
        f"Python {platform.python_version()}"
    )


def record(name: str, result: dict[str, object]) -> Path:
    """Write a JSON result (BENCHMARKS.md quotes these numbers)."""
    RESULTS.mkdir(exist_ok=True)
    result = {
        "benchmark": name,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        **result,
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path


def fake_api_settings(base_url: str, dsn: str, data_dir: str, **env: str) -> Settings:
    """Settings for pollers against the fake Clash API (token ``test-token``, no throttle
    to speak of); ``env`` adds or overrides settings by name."""
    return load_settings(
        {
            "DISCORD_TOKEN": "x",
            "COC_TOKENS": "test-token",
            "COC_API_BASE_URL": base_url,
            "COC_THROTTLE_LIMIT": "100000",
            "DATABASE_URL": dsn,
            "DATA_DIR": data_dir,
            **env,
        }
    )


class ScriptedClock:
    """A poller's time, moved by the benchmark."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def stdin_commands() -> AsyncIterator[list[str]]:
    """The words of each line on stdin, until it closes: how a benchmark drives the fake
    API process it started (the reads run in a thread, so the fake keeps serving)."""
    loop = asyncio.get_running_loop()
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        yield line.split()
