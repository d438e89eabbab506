"""Shared helpers for the fault, load and shutdown tests (tests/hardening)."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

import asyncpg

from db.errors import is_unavailable

T = TypeVar("T")

# Loggers of this project: what they write is ours to keep readable.
OUR_LOGGERS = ("bot", "cogs", "db")


async def eventually(
    check: Callable[[], Awaitable[T | None] | T | None],
    *,
    timeout: float,  # noqa: ASYNC109 - a deadline over many polls, not one await
    what: str,
    every: float = 0.05,
) -> T:
    """Poll ``check`` until it returns something truthy (a database or a fake API
    offers no event for "the tracker wrote that"). A database outage during the
    check counts as "not yet"."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while True:
        try:
            result = check()
            if inspect.isawaitable(result):
                result = await result
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            last, result = exc, None
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} ({last!r})")
        await asyncio.sleep(every)


async def fetch_history(pool: asyncpg.Pool, tags: Iterable[str]) -> dict[str, list[int]]:
    """Each tag's trophies in history order."""
    async with pool.acquire() as con:
        rows = await con.fetch(
            "SELECT tag, trophies FROM player_history WHERE tag = ANY($1::text[]) "
            "ORDER BY tag, observed_at",
            list(tags),
        )
    found: dict[str, list[int]] = {t: [] for t in tags}
    for row in rows:
        found[row["tag"]].append(row["trophies"])
    return found


def ours(record: logging.LogRecord) -> bool:
    return record.name.split(".", 1)[0] in OUR_LOGGERS


def log_problems(records: Iterable[logging.LogRecord]) -> list[str]:
    """Records that break the rule "no exception reaches the log without context".

    * an asyncio "exception was never retrieved" (an escaped task error);
    * any record of ours at WARNING or above whose message does not say what
      failed (empty, or only an exception's text);
    * any traceback logged by our code at ERROR (every fault here is expected,
      so none is a bug worth a traceback).
    """
    problems = []
    for r in records:
        text = r.getMessage()
        if r.name == "asyncio" and r.levelno >= logging.ERROR:
            problems.append(f"asyncio: {text}")
        if not ours(r) or r.levelno < logging.WARNING:
            continue
        if len(text.strip()) < 20:
            problems.append(f"{r.name}: message without context: {text!r}")
        if r.exc_info and r.levelno >= logging.ERROR:
            problems.append(f"{r.name}: traceback logged: {text!r} ({r.exc_info[1]!r})")
    return problems
