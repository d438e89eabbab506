"""The budget planner's loop: count the workload, plan, hand the plan to the pollers.

Every tracker process plans for itself from the same tables, so all arrive at the same
plan; the one in the database is for /status (a bot process without a tracker shows it
too). The requests of all processes together follow the plan: the leases give each row
to one process, whatever their number.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import asyncpg

from bot.clash import ClashApi
from bot.raids.poller import RaidOptions, next_weekend_start
from bot.settings import Settings
from bot.timeutil import utcnow
from bot.tracker.batches import wait_or_stop
from bot.tracker.budget import Budget, Plan, Workload, asked_intervals, capacity, make_plan
from bot.wars.poller import WarOptions
from db import budget as db_budget
from db.errors import is_unavailable

log = logging.getLogger(__name__)

# Often enough that a clan tracked now is in the plan within a minute; the workload
# query reads a few counts.
REPLAN_SECONDS = 60.0
# A raid weekend runs from Friday 07:00 UTC for three days.
RAID_WEEKEND = timedelta(days=3)


def raid_factor(at: datetime) -> float:
    """How much less often than its interval the raid poller reads a clan at ``at``:
    not at all less during a raid weekend, by its idle factor between weekends."""
    began = next_weekend_start(at) - timedelta(days=7)
    return 1.0 if at - began < RAID_WEEKEND else RaidOptions().idle_factor


class BudgetPlanner:
    def __init__(
        self,
        *,
        settings: Settings,
        pool: asyncpg.Pool,
        clash: ClashApi,
        budget: Budget,
        member_factor: Callable[[], float],
        every: float = REPLAN_SECONDS,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.clash = clash
        self.budget = budget
        self.member_factor = member_factor
        self.every = every
        self.clock = clock

    async def plan_once(self) -> Plan:
        async with self.pool.acquire() as con:
            row = await db_budget.workload(con)
        work = Workload(
            clans=row["clans"],
            direct_players=row["direct_players"],
            member_players=row["players"] - row["direct_players"],
            war_clans=row["war_clans"],
            private_war_clans=row["private_war_clans"],
            raid_clans=row["raid_clans"],
            battle_players=row["battle_players"],
        )
        asked = asked_intervals(
            self.settings,
            self.clash.cache_ages,
            self.member_factor(),
            private_factor=WarOptions().private_factor,
            raid_factor=raid_factor(self.clock()),
        )
        plan = make_plan(work, asked, capacity(self.settings))
        before = self.budget.plan
        self.budget.asked, self.budget.plan = asked, plan
        # Said when it changes (short or not, or the stretch by a quarter), not each minute.
        moved = abs(plan.player_stretch - before.player_stretch) > 0.25 * before.player_stretch
        if plan.short and (not before.short or moved):
            log.warning(
                "API budget short: %.0f req/s wanted of %.0f; clan polling stretched %.2fx, "
                "player polling %.2fx (more keys: COC_TOKENS or COC_KEY_COUNT)",
                plan.wanted,
                plan.capacity,
                plan.clan_stretch,
                plan.player_stretch,
            )
        elif before.short and not plan.short:
            log.info("API budget suffices again: %.0f of %.0f req/s", plan.wanted, plan.capacity)
        async with self.pool.acquire() as con:
            await db_budget.save_plan(
                con,
                plan.capacity,
                plan.wanted,
                plan.planned,
                plan.clan_stretch,
                plan.player_stretch,
            )
            await db_budget.measure_freshness(con)
        return plan

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.plan_once()
            except Exception as exc:
                # The plan in force stays; the next try comes at the next interval.
                if is_unavailable(exc):
                    log.warning("budget planner: database unavailable (%s)", type(exc).__name__)
                else:
                    log.exception("budget planner: planning failed")
            await wait_or_stop(stop, self.every)
