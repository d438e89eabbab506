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


async def test_unsharded_the_gateway_latency_is_the_one_connections(harness: Harness) -> None:
    reply = await harness.run("status")
    fields = {f["name"]: f["value"] for f in reply.embeds[0]["fields"]}
    gateway = fields["Latency"].splitlines()[-1]
    assert gateway.startswith("Gateway ") and "Shard" not in fields["Latency"]


async def test_the_budget_plan_and_freshness_are_shown(harness: Harness) -> None:
    from db import budget

    async with harness.bot.pool.acquire() as con:
        await con.execute(
            "INSERT INTO clan_polls (clan_tag, next_poll_at, last_polled_at) VALUES "
            "('#2Q9VRJ0', now(), now() - interval '100 s'), ('#8YUCG2L', now(), NULL)"
        )
        await budget.save_plan(con, 25.5, 40.0, 25.5, 1.0, 1.8)
        await budget.measure_freshness(con)  # the planner's, once a minute
    reply = await harness.run("status")
    fields = {f["name"]: f["value"] for f in reply.embeds[0]["fields"]}
    assert fields["API budget"].startswith("25.5 of 26 req/s planned")
    assert "**Budget short**: 40 req/s wanted" in fields["API budget"]
    assert "players 1.80x" in fields["API budget"]
    (clans,) = [line for line in fields["Freshness"].splitlines() if line.startswith("clans")]
    assert clans == "clans: p50 2 min, p95 2 min old (1 waiting for a first read)"

    # No tracker has measured for an hour: the ages grow with it, and /status says so.
    async with harness.bot.pool.acquire() as con:
        await con.execute("UPDATE api_freshness SET measured_at = now() - interval '1 hour'")
    reply = await harness.run("status")
    fields = {f["name"]: f["value"] for f in reply.embeds[0]["fields"]}
    lines = fields["Freshness"].splitlines()
    assert lines[0] == "clans: p50 62 min, p95 62 min old (1 waiting for a first read)"
    assert lines[-1] == "measured 60 min ago: no tracker has measured since"


async def test_freshness_before_any_tracker_has_measured(harness: Harness) -> None:
    reply = await harness.run("status")
    fields = {f["name"]: f["value"] for f in reply.embeds[0]["fields"]}
    assert fields["Freshness"] == "not measured yet (no tracker has run)"
    assert fields["API budget"].endswith("no plan yet (no tracker has run)")
