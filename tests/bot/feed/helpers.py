"""Waiting for the feed sender in tests."""

from __future__ import annotations

import asyncio

from bot.feed.sender import FeedSender
from db import feeds


async def settled(sender: FeedSender, timeout: float = 10.0) -> None:  # noqa: ASYNC109
    """Wait until a whole cycle has passed and nothing is left to post."""
    async with asyncio.timeout(timeout):
        while True:
            for _ in range(2):  # the second cycle started after this call
                cycled = sender.cycle_done
                sender.wake()
                await cycled.wait()
            async with sender.pool.acquire() as con:
                if not await feeds.pending_batches_or_rows(con):
                    return
