"""/ranked: this week's league, attacks and stars, and the last weeks' results.

The profile (tier, league trophies, the week) and the league history (past weeks) are
read live; this week's attacks are counted from the stored battle log (the API shows
them nowhere else), so only for a tracked player who battled, and only from the
battles read since tracking began.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import asyncpg
import discord

from bot.battles.parse import BattlePayloadError, league_tiers, parse_league_history
from bot.battles.weeks import (
    UNRANKED_TIER,
    WEEK,
    WeekResult,
    results,
    tier_name,
    week_start,
)
from bot.clash import ClashApi, fetched_at
from bot.embeds import literal, timestamp
from bot.errors import UserFacingError
from bot.profile import parse_player
from bot.tracker.observe import record_lookup
from db import battles, league_weeks
from db.model import LeagueWeek, PlayerProfile

log = logging.getLogger(__name__)

# Past weeks shown.
WEEKS_SHOWN = 8
OUTCOME_WORDS = {
    "promoted": "⬆️ promoted to {tier}",
    "demoted": "⬇️ demoted to {tier}",
    "stayed": "stayed in {tier}",
    "unknown": "",
}


@dataclass(frozen=True, slots=True)
class RankedReport:
    profile: PlayerProfile
    names: dict[int, str]
    weeks: list[WeekResult]  # newest first
    counted: Any | None  # this week's stored ranked attacks, None if the log is not read
    history_live: bool  # False: the history could not be read, stored weeks are shown


async def _history(
    clash: ClashApi, con: asyncpg.Connection, tag: str
) -> tuple[list[LeagueWeek], bool]:
    try:
        body = await clash.get_league_history(tag, cached=True)
        return parse_league_history(body), True
    except (UserFacingError, BattlePayloadError) as exc:
        log.info("league history of %s not read: %s", tag, type(exc).__name__)
    rows = await league_weeks.weeks(con, tag, WEEKS_SHOWN + 1)
    fields = LeagueWeek.__slots__
    return [LeagueWeek(**{f: r[f] for f in fields}) for r in rows], False


async def _names(clash: ClashApi, con: asyncpg.Connection, ids: list[int]) -> dict[int, str]:
    try:
        tiers = league_tiers(await clash.get_league_tiers())
        await league_weeks.save_tiers(con, tiers)
        return tiers
    except (UserFacingError, BattlePayloadError) as exc:
        log.info("league tiers not read: %s", type(exc).__name__)
        return await league_weeks.tier_names(con, ids)


async def load_ranked(
    clash: ClashApi, pool: asyncpg.Pool, tag: str, *, games_max: int
) -> RankedReport:
    raw = await clash.get_player(tag)
    profile = parse_player(raw)
    async with pool.acquire() as con:
        await record_lookup(con, profile, fetched_at(raw), games_max=games_max)
        weeks, live = await _history(clash, con, tag)
        ids = [w.tier_id for w in weeks] + [profile.league_tier_id or UNRANKED_TIER]
        names = await _names(clash, con, ids)
        if profile.league_tier_id is not None and profile.league:
            names.setdefault(profile.league_tier_id, profile.league)
        state = await battles.log_state(con, tag)
        counted = None
        if state is not None and state["read"] and profile.league_season_id is not None:
            counted = await battles.week_attacks(con, tag, profile.league_season_id)
    current = profile.league_tier_id
    # The last listed week's outcome is judged by this week's tier only if they follow.
    if weeks and profile.league_season_id is not None:
        last = max(w.season_id for w in weeks)
        if profile.league_season_id - last != int(WEEK.total_seconds()):
            current = None
    return RankedReport(profile, names, results(weeks, current), counted, live)


def _week_line(result: WeekResult, names: dict[int, str]) -> str:
    w = result.week
    place = f"#{w.placement}" if w.placement is not None else "unplaced"
    battles_max = f" of {w.max_battles}" if w.max_battles else ""
    # The week is named by its id's date: whether an id is its week's start or its end
    # is not assumed (the capture learns it; see bot.battles.weeks.week_of).
    line = (
        f"Week of {timestamp(week_start(w.season_id), 'd')}: "
        f"**{literal(tier_name(w.tier_id, names))}**, "
        f"{place}, {w.league_trophies:,} trophies, {w.attack_wins} attack wins{battles_max}, "
        f"{w.attack_stars} stars"
    )
    words = OUTCOME_WORDS[result.outcome].format(
        tier=literal(tier_name(result.next_tier_id, names))
    )
    return f"{line}; {words}" if words else line


def ranked_embed(report: RankedReport) -> discord.Embed:
    p = report.profile
    embed = discord.Embed(
        title=f"Ranked: {literal(p.name)} ({p.tag})", colour=discord.Colour.purple()
    )
    unranked = p.league_tier_id in (None, UNRANKED_TIER)
    if unranked and not report.weeks and report.history_live:
        embed.description = "This player has not played ranked battles yet."
        return embed
    tier = tier_name(p.league_tier_id, report.names)
    week = (
        f"League: **{literal(tier)}**\nLeague trophies: **{p.trophies:,}**"
        if not unranked
        else "Not in a ranked league this week."
    )
    if p.league_season_id is not None:
        week += f"\nWeek of {timestamp(week_start(p.league_season_id), 'D')}"
    embed.add_field(name="This week", value=week, inline=False)
    last_max = next((r.week.max_battles for r in report.weeks if r.week.max_battles), None)
    if report.counted is None:
        used = (
            "Not counted: attacks are counted from the battle log, read for tracked players "
            "once they battle."
        )
    else:
        c = report.counted
        of = f" of {last_max} (last week's maximum)" if last_max else ""
        used = (
            f"**{c['attacks']}**{of} attacks seen, {c['wins']} won, {c['stars']} stars "
            "(counted from the battle logs read since tracking began)"
        )
    embed.add_field(name="Attacks this week", value=used, inline=False)
    if report.weeks:
        embed.add_field(name="Last weeks", value=_lines_within(report), inline=False)
    elif report.history_live:
        embed.add_field(name="Last weeks", value="No finished ranked week yet.", inline=False)
    else:
        embed.add_field(
            name="Last weeks",
            value="The league history cannot be read now, and no week is stored: try later.",
            inline=False,
        )
    if not report.history_live and report.weeks:
        embed.set_footer(text="The league history could not be read now: stored weeks shown.")
    return embed


def _lines_within(report: RankedReport, limit: int = 1024) -> str:
    """Whole lines of the last weeks, newest first, as many as fit in a field."""
    text = ""
    for result in report.weeks[:WEEKS_SHOWN]:
        line = _week_line(result, report.names)
        candidate = f"{text}\n{line}" if text else line
        if len(candidate) > limit:
            break
        text = candidate
    return text or _week_line(report.weeks[0], report.names)[: limit - 1] + "…"
