"""/status shows this process's background tasks, and says which one is down."""

from __future__ import annotations

import asyncio

from tests.harness import Harness


async def test_a_dead_task_is_named_with_its_error(harness: Harness) -> None:
    died = asyncio.Event()

    async def broken() -> None:
        died.set()
        raise ValueError("the clock went backwards")

    supervisor = harness.bot.supervisor
    supervisor.start("scheduler", broken)
    await asyncio.wait_for(died.wait(), 5)
    await asyncio.sleep(0)  # the supervisor records the death
    try:
        assert not supervisor.healthy()
        reply = await harness.run("status")
        fields = {f["name"]: f["value"] for f in reply.embeds[0]["fields"]}
        tasks = fields["Background tasks"].splitlines()
        assert "feed sender: running" in tasks
        (down,) = [t for t in tasks if t.startswith("scheduler")]
        assert "**down** (ValueError: the clock went backwards), restarting <t:" in down
    finally:
        await supervisor.stop("scheduler", timeout=1)
    assert supervisor.healthy()
