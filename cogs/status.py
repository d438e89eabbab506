"""/status: is the bot healthy, and how far behind is the tracker?"""

from __future__ import annotations

import math
import time
from datetime import timedelta
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.embeds import literal, timestamp
from bot.supervisor import Supervisor
from bot.timeutil import utcnow
from bot.tracker.status_text import budget_text, freshness_text
from db import budget, guild_tracking, tracker_status

if TYPE_CHECKING:
    from bot.discord_bot import TrackerBot


class StatusCog(commands.Cog):
    def __init__(self, bot: TrackerBot) -> None:
        self.bot = bot

    @app_commands.command(name="status", description="Bot health: tracking, sweeps, latency")
    async def status(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        start = time.perf_counter()
        async with self.bot.pool.acquire() as con:
            await tracker_status.ping(con)
            db_ms = (time.perf_counter() - start) * 1000
            state = await tracker_status.status(con)
            backlog = await tracker_status.backlog(con)
            clans = await tracker_status.count_clans(con)
            plan = await budget.load_plan(con)
            fresh = await budget.freshness(con)
            guild_players = guild_clans = None
            if interaction.guild_id is not None:
                guild_players = await guild_tracking.count_guild_players(con, interaction.guild_id)
                guild_clans = await guild_tracking.count_guild_clans(con, interaction.guild_id)

        embed = discord.Embed(title="Status", colour=discord.Colour.blurple())
        if guild_players is not None:
            embed.add_field(
                name="This server", value=f"{guild_players} players, {guild_clans} clans tracked"
            )
        embed.add_field(
            name="All servers",
            value=f"{backlog['active']} players, {clans} clans polled"
            + (f"; {backlog['gone']} gone" if backlog["gone"] else ""),
        )
        if state["last_sweep_finished"] is not None:
            took = (state["last_sweep_finished"] - state["last_sweep_started"]).total_seconds()
            sweep = (
                f"{timestamp(state['last_sweep_finished'])}: {state['last_sweep_players']} "
                f"polled in {took:.1f} s"
            )
        else:
            sweep = "none yet"
        embed.add_field(name="Last sweep", value=sweep, inline=False)
        embed.add_field(name="Backlog", value=f"{backlog['due']} players past due")
        api = state["api_latency_ms"]
        # The gateway connection this server's events come on (its shard's, when sharded).
        beat = self.bot.gateway_latency(interaction.guild_id)
        beat_text = f"{beat * 1000:.0f} ms" if math.isfinite(beat) else "not measured yet"
        shard = self.bot.shard_for(interaction.guild_id)
        gateway = (
            f"Gateway {beat_text}"
            if shard is None
            else f"Shard {shard} of {self.bot.settings.shard_count}, gateway {beat_text}"
        )
        embed.add_field(
            name="Latency",
            value=(
                f"API {api:.0f} ms (tracker average)\nDatabase {db_ms:.1f} ms"
                if api is not None
                else f"API: not measured yet\nDatabase {db_ms:.1f} ms"
            )
            + f"\n{gateway}",
        )
        if state["pause_reason"]:
            until = state["paused_until"]
            paused = f"Paused: {literal(state['pause_reason'])}"
            if until is not None and until > state["now"]:
                paused += f", retrying {timestamp(until)}"
            else:
                paused += ", checking whether the API is back"
        else:
            paused = "Running"
        embed.add_field(name="Tracker", value=paused, inline=False)
        settings = self.bot.settings
        keys = len(settings.coc_tokens) or settings.coc_key_count
        embed.add_field(
            name="API budget",
            value=budget_text(plan, keys, settings.coc_throttle_limit),
            inline=False,
        )
        embed.add_field(name="Freshness", value=freshness_text(fresh), inline=False)
        embed.add_field(
            name="Background tasks", value=describe_tasks(self.bot.supervisor), inline=False
        )
        await interaction.followup.send(embed=embed)


def describe_tasks(supervisor: Supervisor) -> str:
    """One line per task this process runs; a task that died says why and when it restarts."""
    lines = []
    now_mono, now = time.monotonic(), utcnow()
    for task in supervisor.states():
        if task.running:
            restarts = f" (restarted {task.restarts}×)" if task.restarts else ""
            lines.append(f"{literal(task.name)}: running{restarts}")
            continue
        line = f"{literal(task.name)}: **down**"
        if task.last_error:
            line += f" ({literal(task.last_error)[:200]})"
        if task.restart_at is not None:
            at = now + timedelta(seconds=max(0.0, task.restart_at - now_mono))
            line += f", restarting {timestamp(at)}"
        lines.append(line)
    return "\n".join(lines)[:1024] or "none in this process (trackers may run apart)"


async def setup(bot: TrackerBot) -> None:
    await bot.add_cog(StatusCog(bot))
