"""The budget planner through the real tracker, database and fake API: the plan it
saves, the intervals every poller then keeps, freshness for /status, and a Town Hall
upgrade seen in a clan's list making the full profile due."""

from __future__ import annotations

from pathlib import Path

from bot.settings import load_settings
from bot.tracker.budget import CACHE_AGES, Budget, asked_intervals
from bot.tracker.planner import BudgetPlanner
from bot.tracker.status_text import budget_text, freshness_text
from db import budget as db_budget
from tests.bot.tracker.conftest import Env
from tests.fakes.coc_api import make_clan, make_player

CLAN = "#2Q9VRJ0"
MEMBERS = ["#2PP0JCCL", "#9P9PRYQ0", "#LQ2V9UC"]
# Valid tags for players tracked on their own.
ALPHABET = "0289PYLQGRJCUV"
DIRECT = [f"#{ALPHABET[1 + i // 14]}{ALPHABET[i % 14]}Q{ALPHABET[(i * 5) % 14]}" for i in range(24)]


def planner_for(env: Env, budget: Budget, tmp_path: Path, **env_vars: str) -> BudgetPlanner:
    settings = load_settings(
        {
            "DISCORD_TOKEN": "x",
            "COC_TOKENS": "test-token",
            "COC_API_BASE_URL": env.api.base_url,
            "DATA_DIR": str(tmp_path),
            **env_vars,
        }
    )
    return BudgetPlanner(
        settings=settings,
        pool=env.pool,
        clash=env.clients[0],
        budget=budget,
        member_factor=lambda: 6.0,
    )


async def gaps(env: Env, table: str, key: str) -> dict[str, float]:
    """Seconds from each row's last poll to its next one, as scheduled."""
    async with env.pool.acquire() as con:
        rows = await con.fetch(
            f"SELECT {key} AS k, extract(epoch FROM next_poll_at - last_polled_at) AS gap "
            f"FROM {table} WHERE last_polled_at IS NOT NULL"
        )
    return {r["k"]: float(r["gap"]) for r in rows}


async def test_a_short_budget_stretches_every_player_alike_and_says_so(
    env: Env, tmp_path: Path
) -> None:
    for tag in DIRECT:
        env.api.set_player(make_player(tag))
    env.api.set_clan(make_clan(CLAN, [make_player(t) for t in MEMBERS]))
    await env.track(*DIRECT)
    await env.track_clan(CLAN)
    tracker = await env.new_tracker()
    # One key at 1 request/s plans on 0.7 req/s (bot.api_throttle.pace, x HEADROOM); 24
    # players every 10 s want 2.4.
    vars_ = {"COC_THROTTLE_LIMIT": "1", "TRACK_INTERVAL_SECONDS": "10"}
    budget = Budget(asked_intervals(load_settings({**_base(env, tmp_path), **vars_}), {}, 6.0))
    tracker.budget = budget
    planner = planner_for(env, budget, tmp_path, **vars_)
    plan = await planner.plan_once()
    assert plan.short and plan.clan_stretch == 1.0
    expected = plan.player_stretch * 10
    assert expected > 20

    await env.poll(tracker)
    players = await gaps(env, "player_polls", "tag")
    direct = {t: g for t, g in players.items() if t in DIRECT}
    assert len(direct) == len(DIRECT)
    # Everyone alike (no player starved to keep others fresh), at the stretched pace.
    assert all(abs(g - expected) < 1.0 for g in direct.values()), direct
    clans = await gaps(env, "clan_polls", "clan_tag")
    assert abs(clans[CLAN] - 10.0) < 1.0  # clans first: their pace is kept

    await planner.plan_once()  # the next minute (freshness is measured with the plan)
    async with env.pool.acquire() as con:
        saved = await db_budget.load_plan(con)
        fresh = await db_budget.freshness(con)
    assert saved["player_stretch"] == budget.plan.player_stretch > 1.0
    text = budget_text(saved, 1, 1)
    assert "Budget short" in text and f"players {budget.plan.player_stretch:.2f}x" in text
    lines = freshness_text(fresh).splitlines()
    assert lines[0].startswith("clans: p50 ") and lines[1].startswith("profiles: p50 ")


async def test_enough_budget_keeps_the_asked_intervals(env: Env, tmp_path: Path) -> None:
    env.api.set_clan(make_clan(CLAN, [make_player(t) for t in MEMBERS]))
    for tag in MEMBERS:
        env.api.set_player(make_player(tag))
    await env.track_clan(CLAN)
    tracker = await env.new_tracker()
    vars_ = {"COC_THROTTLE_LIMIT": "30", "TRACK_INTERVAL_SECONDS": "10"}
    budget = Budget(asked_intervals(load_settings({**_base(env, tmp_path), **vars_}), {}, 6.0))
    tracker.budget = budget
    await env.poll(tracker)  # the clan's members join the schedule
    plan = await planner_for(env, budget, tmp_path, **vars_).plan_once()
    assert not plan.short
    # The clan's list, war and raid weekends every 10 s; its members' profiles every 60 s.
    assert abs(plan.wanted - (3 / 10 + 3 / 60)) < 1e-9
    await env.poll(tracker)
    members = await gaps(env, "player_polls", "tag")
    assert set(members) == set(MEMBERS)
    assert all(abs(g - 60.0) < 1.0 for g in members.values()), members


async def test_blank_intervals_follow_the_cache_age_the_api_sends(env: Env, tmp_path: Path) -> None:
    env.api.set_clan(make_clan(CLAN, [make_player(t) for t in MEMBERS]))
    for tag in MEMBERS:
        env.api.set_player(make_player(tag))
    await env.track_clan(CLAN)
    tracker = await env.new_tracker()
    await env.poll(tracker)  # the fake answers clans with its Cache-Control
    seen = env.clients[0].cache_ages
    assert seen["clan"] > 0 and seen["player"] > 0
    budget = Budget(tracker.budget.asked)
    plan = await planner_for(env, budget, tmp_path).plan_once()
    # The fake's clans answer max-age=91 (the time left on the API's cache): the blank
    # interval keeps the recorded 120 s, not the countdown.
    assert seen["clan"] < CACHE_AGES["clan"]
    assert budget.asked.track == CACHE_AGES["clan"]
    assert not plan.short
    # The longest age seen wins over one answer's countdown.
    clash = env.clients[0]
    clash._note_age("clan", {"_response_retry": 2})
    clash._note_age("clan", {"_response_retry": 300})
    clash._note_age("clan", {"_response_retry": 5})
    assert clash.cache_ages["clan"] == 300
    await planner_for(env, budget, tmp_path).plan_once()
    assert budget.asked.track == 300


async def test_a_town_hall_upgrade_in_the_clan_list_makes_the_profile_due(env: Env) -> None:
    players = [make_player(t, town_hall=12) for t in MEMBERS]
    env.api.set_clan(make_clan(CLAN, players))
    for p in players:
        env.api.set_player(p)
    await env.track_clan(CLAN)
    tracker = await env.new_tracker()
    await env.poll(tracker)
    upgraded = make_player(MEMBERS[0], town_hall=13)
    env.api.set_clan(make_clan(CLAN, [upgraded, *players[1:]]))
    async with env.pool.acquire() as con:
        await con.execute("UPDATE clan_polls SET next_poll_at = now() - interval '1 s'")
    env.clock.advance(minutes=1)
    env.api.reset_counts()
    await tracker.run_once()
    read = {p for m, p, s in env.api.answered if p.startswith("/v1/players/")}
    assert read == {f"/v1/players/{MEMBERS[0]}"}  # that member's profile, not the others'


def _base(env: Env, tmp_path: Path) -> dict[str, str]:
    return {
        "DISCORD_TOKEN": "x",
        "COC_TOKENS": "test-token",
        "COC_API_BASE_URL": env.api.base_url,
        "DATA_DIR": str(tmp_path),
    }
