"""The budget plan: fits the keys, stretches every player-level kind alike, serves clans
first, and keeps blank intervals at the cache age (bot.tracker.budget)."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from bot.api_throttle import pace
from bot.settings import load_settings
from bot.tracker.budget import (
    CACHE_AGES,
    CLAN_SHARE,
    HEADROOM,
    Budget,
    Intervals,
    Workload,
    asked_intervals,
    capacity,
    clan_rate,
    make_plan,
    player_rate,
)

BASE = {"DISCORD_TOKEN": "x", "COC_TOKENS": "a,b,c", "COC_THROTTLE_LIMIT": "30"}

counts = st.integers(0, 200_000)
workloads = st.builds(
    Workload,
    clans=st.integers(0, 5_000),
    direct_players=counts,
    member_players=counts,
    war_clans=st.integers(0, 5_000),
    raid_clans=st.integers(0, 5_000),
    battle_players=counts,
)
seconds = st.floats(1.0, 7200.0)
intervals = st.builds(
    Intervals,
    track=seconds,
    war=seconds,
    raid=seconds,
    battlelog=seconds,
    member_factor=st.sampled_from([1.0, 2.0, 6.0]),
    raid_factor=st.sampled_from([1.0, 4.0]),
)
budgets = st.floats(1.0, 3000.0)


@given(workloads, intervals, budgets)
def test_the_plan_fits_the_budget_and_stretches_only_when_short(
    work: Workload, asked: Intervals, budget: float
) -> None:
    plan = make_plan(work, asked, budget)
    assert plan.clan_stretch >= 1.0 and plan.player_stretch >= 1.0
    assert plan.planned <= budget * (1 + 1e-9)
    assert math.isclose(plan.wanted, clan_rate(work, asked) + player_rate(work, asked))
    if plan.wanted <= budget and clan_rate(work, asked) <= budget * CLAN_SHARE:
        assert not plan.short
    if plan.short:
        # Stretched only as far as needed: the budget is used to the full.
        assert math.isclose(plan.planned, budget, rel_tol=1e-9) or plan.player_stretch == 1.0


@given(workloads, intervals, budgets)
def test_clans_go_first_and_players_degrade_alike(
    work: Workload, asked: Intervals, budget: float
) -> None:
    plan = make_plan(work, asked, budget)
    clans = clan_rate(work, asked)
    if clans <= budget * CLAN_SHARE:
        assert plan.clan_stretch == 1.0  # clans keep their pace while they fit their share
    b = Budget(asked, plan)
    # Every player-level kind keeps its ratio to the others: nobody is starved.
    assert math.isclose(b.players() / asked.track, b.battle_logs() / asked.battlelog)
    assert math.isclose(b.clans() / asked.track, b.wars() / asked.war)
    assert math.isclose(b.wars() / asked.war, b.raids() / asked.raid)


def test_a_short_budget_in_figures() -> None:
    # 100,000 members of 2,000 clans, 20,000 of them playing, on one key: far too little.
    work = Workload(
        clans=2000, member_players=100_000, war_clans=2000, raid_clans=2000, battle_players=20_000
    )
    asked = Intervals(track=120, war=120, raid=120, battlelog=120, member_factor=6)
    plan = make_plan(work, asked, 25.5)
    assert plan.clan_stretch == (2000 * 3 / 120) / (25.5 * CLAN_SHARE)
    assert plan.planned == 25.5
    # On ten keys the clans keep their pace; the players stretch a little.
    roomy = make_plan(work, asked, 10 * 30 * HEADROOM)
    assert roomy.clan_stretch == 1.0
    assert roomy.player_stretch == (100_000 / 720 + 20_000 / 120) / (10 * 30 * HEADROOM - 50)


def test_capacity_counts_tokens_or_created_keys() -> None:
    assert capacity(load_settings(BASE)) == pace(3 * 30) * HEADROOM
    email = {**BASE, "COC_TOKENS": "", "COC_EMAIL": "a@b.c", "COC_PASSWORD": "pw"}
    assert capacity(load_settings({**email, "COC_KEY_COUNT": "10"})) == pace(10 * 30) * HEADROOM


def test_blank_intervals_never_ask_sooner_than_the_cache() -> None:
    planned = asked_intervals(load_settings(BASE), {}, 6.0)
    assert planned.track == CACHE_AGES["clan"]
    assert planned.war == CACHE_AGES["war"]
    # A blank raid interval is its cache age; a blank battle log one follows the track
    # interval (as DESIGN has it), never below the log's cache age.
    assert planned.raid == CACHE_AGES["raid"]
    assert planned.battlelog == planned.track >= CACHE_AGES["battlelog"]
    # What the answers said wins over the recorded ages.
    seen = asked_intervals(load_settings(BASE), {"clan": 300.0, "war": 600.0}, 6.0)
    assert (seen.track, seen.war) == (300.0, 600.0)


def test_explicit_intervals_are_honoured_below_the_cache_age() -> None:
    settings = load_settings({**BASE, "TRACK_INTERVAL_SECONDS": "2"})
    asked = asked_intervals(settings, {"clan": 120.0}, 6.0)
    assert (asked.track, asked.war, asked.raid, asked.battlelog) == (2.0, 2.0, 2.0, 2.0)
    war_only = load_settings({**BASE, "TRACK_INTERVAL_SECONDS": "", "WAR_INTERVAL_SECONDS": "5"})
    asked = asked_intervals(war_only, {}, 6.0)
    assert asked.war == 5.0 and asked.track == CACHE_AGES["clan"]


def test_private_war_logs_and_quiet_raid_weeks_cost_less() -> None:
    asked = Intervals(track=120, war=120, raid=60, battlelog=60, private_factor=4.0)
    work = Workload(clans=100, war_clans=100, raid_clans=100)
    weekend = clan_rate(work, asked)
    assert weekend == 100 / 120 + 100 / 120 + 100 / 60
    private = Workload(clans=100, war_clans=100, private_war_clans=40, raid_clans=100)
    assert clan_rate(private, asked) == 100 / 120 + 60 / 120 + 40 / 480 + 100 / 60
    between = Intervals(track=120, war=120, raid=60, battlelog=60, raid_factor=4.0)
    assert clan_rate(work, between) == 100 / 120 + 100 / 120 + 100 / 240


def test_raid_weekends_are_planned_at_full_rate() -> None:
    from datetime import UTC, datetime

    from bot.tracker.planner import raid_factor

    assert raid_factor(datetime(2026, 11, 27, 7, 0, tzinfo=UTC)) == 1.0  # Friday 07:00
    assert raid_factor(datetime(2026, 11, 30, 6, 59, tzinfo=UTC)) == 1.0  # Monday 06:59
    assert raid_factor(datetime(2026, 11, 30, 7, 1, tzinfo=UTC)) == 4.0
    assert raid_factor(datetime(2026, 11, 27, 6, 59, tzinfo=UTC)) == 4.0
