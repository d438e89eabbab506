"""Boards through the fake Discord: adding one, and refresh cycles run on demand."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from bot.boards.refresher import BoardRefresher
from tests.cogs.test_feed import channel_option
from tests.fakes.coc_api import FakeCocApi
from tests.fakes.discord_server import FakeDiscord, Message
from tests.harness import MANAGE_GUILD, Harness, bot_on, opt, sub

BOARD_CHANNEL = 7300


def refresher(harness: Harness) -> BoardRefresher:
    cog: Any = harness.bot.get_cog("BoardCog")
    assert cog is not None
    return cog.refresher


async def add_board(
    harness: Harness,
    stat: str,
    channel_id: int = BOARD_CHANNEL,
    period: str | None = None,
    **who: Any,
) -> Message:
    option, resolved = channel_option(harness, channel_id)
    options = [opt("stat", stat), option] + ([opt("period", period)] if period else [])
    who.setdefault("permissions", MANAGE_GUILD)
    return await harness.run("board", sub("add", *options), resolved=resolved, **who)


async def remove_board(harness: Harness, stat: str, channel_id: int = BOARD_CHANNEL) -> Message:
    option, resolved = channel_option(harness, channel_id)
    return await harness.run(
        "board",
        sub("remove", opt("stat", stat), option),
        resolved=resolved,
        permissions=MANAGE_GUILD,
    )


@contextlib.asynccontextmanager
async def boards_bot(
    discord: FakeDiscord, coc: FakeCocApi, dsn: str, data_dir: Path
) -> AsyncIterator[Harness]:
    """The real bot on the caller's fakes, refreshing boards every 2 s."""
    async with bot_on(discord, coc, dsn, data_dir, BOARD_REFRESH_SECONDS="2") as h:
        yield h


async def make_due(harness: Harness) -> None:
    await harness.pool.execute("UPDATE boards SET next_refresh_at = now() - interval '1 s'")


async def refresh_racing(
    harness: Harness, racer: BoardRefresher, meanwhile: Callable[[], Awaitable[None]]
) -> None:
    """One cycle of ``racer`` over every board, made due, with ``meanwhile`` run as each
    board's refresh begins (after its render): what lands during a refresh."""
    original = racer.refresh

    async def racing(board: Any, payload: Any) -> Any:
        await meanwhile()
        return await original(board, payload)

    racer.refresh = racing  # type: ignore[method-assign]
    try:
        await make_due(harness)
        await racer.run_once()
    finally:
        racer.refresh = original  # type: ignore[method-assign]


async def cycle(harness: Harness, *, due: bool = True) -> None:
    """Make every board due (``due``), then wait until the refresher has run two whole
    cycles (the one under way may have started before)."""
    if due:
        await make_due(harness)
    r = refresher(harness)
    for _ in range(2):
        done = r.cycle_done
        r.wake()
        await asyncio.wait_for(done.wait(), 15)


async def board_message(harness: Harness, channel_id: int = BOARD_CHANNEL) -> Message:
    """The one live message in the channel, once posted and recorded as the board's."""
    message = await harness.discord.wait_for(
        lambda: _only(harness.discord.live_messages(channel_id)), 15, "the board's message"
    )
    recorded = "SELECT true FROM boards WHERE message_id = $1 AND leased_by IS NULL"
    async with asyncio.timeout(15):
        while not await harness.pool.fetchval(recorded, message.id):
            await refresher(harness).cycle_done.wait()  # the refresh records it, then ends
    return message


def _only(messages: list[Message]) -> Message | None:
    assert len(messages) <= 1, f"{len(messages)} live messages"
    return messages[0] if messages else None


def lines(message: Message) -> list[str]:
    return [ln for ln in message.embeds[0]["description"].splitlines() if ln.startswith("`")]
