"""The background pollers a process runs, started under its supervisor in one place.

Both ``python -m bot`` (unless TRACKER_ENABLED=false) and ``python -m bot
tracker`` run them: the budget planner, the player tracker and the war, raid and
battle pollers. Each shares its work with the same pollers of other processes
through leases in the database; the planner sets the intervals they all use.
"""

from __future__ import annotations

import asyncio

import asyncpg

from bot.battles.poller import BattlePoller
from bot.clash import ClashApi
from bot.raids.poller import RaidPoller
from bot.settings import Settings
from bot.supervisor import Supervisor
from bot.tracker.budget import Budget, asked_intervals
from bot.tracker.engine import Tracker, TrackerOptions
from bot.tracker.planner import BudgetPlanner
from bot.wars.poller import WarPoller


def start_pollers(
    supervisor: Supervisor,
    settings: Settings,
    pool: asyncpg.Pool,
    clash: ClashApi,
    stop: asyncio.Event,
) -> Tracker:
    """Start every poller; ``stop`` ends them (set it, then stop the supervisor).
    Returns the player tracker (its loop's liveness is a tracker process's health)."""
    options = TrackerOptions()
    # Before the first plan: the settings' intervals, blank ones at their cache ages.
    budget = Budget(asked_intervals(settings, clash.cache_ages, options.clan_member_factor))
    tracker = Tracker(settings=settings, pool=pool, clash=clash, options=options, budget=budget)
    wars = WarPoller(settings=settings, pool=pool, clash=clash, budget=budget)
    raid_poller = RaidPoller(settings=settings, pool=pool, clash=clash, budget=budget)
    battle_poller = BattlePoller(settings=settings, pool=pool, clash=clash, budget=budget)
    planner = BudgetPlanner(
        settings=settings,
        pool=pool,
        clash=clash,
        budget=budget,
        member_factor=tracker.member_factor,
    )
    supervisor.start("budget planner", lambda: planner.run(stop))
    supervisor.start("tracker", lambda: tracker.run(stop))
    supervisor.start("war poller", lambda: wars.run(stop))
    supervisor.start("raid poller", lambda: raid_poller.run(stop))
    supervisor.start("battle poller", lambda: battle_poller.run(stop))
    return tracker
