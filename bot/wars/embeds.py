"""The war commands' embeds. Player and clan names are always escaped."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg
import discord

from bot.clans import TrackedClan
from bot.embeds import literal, timestamp
from bot.periods import Ranked
from bot.wars.current import CurrentWar, attacks_left
from bot.wars.records import METRIC_LABELS, AttackFigures, Direction, Metric, WarBoard, WarRecord
from db.model import WarSnapshot

FIELD_LIMIT = 1024
STATE_LABELS = {"preparation": "Preparation day", "inWar": "Battle day", "warEnded": "Ended"}
RESULT_LABELS = {"win": "Won", "lose": "Lost", "tie": "Tie"}
DIRECTION_LABELS = {
    Direction.UP: "Attacking up (higher Town Hall)",
    Direction.EQUAL: "Same Town Hall",
    Direction.DOWN: "Attacking down (lower Town Hall)",
}
MINE = "➜"


def _clipped_lines(lines: Sequence[str], limit: int = FIELD_LIMIT) -> str:
    """As many lines as fit in an embed field, then how many were left out."""
    out: list[str] = []
    used = 0
    for i, text in enumerate(lines):
        more = f"… and {len(lines) - i} more"
        if used + len(text) + 1 + len(more) > limit:
            out.append(more)
            break
        out.append(text)
        used += len(text) + 1
    return "\n".join(out) or "-"


def _percent(value: float) -> str:
    return f"{value:.1f}%"


def _when(war: WarSnapshot, now: datetime) -> str:
    if war.state == "preparation" and now < war.start_time:
        return f"Battle day starts {timestamp(war.start_time)}"
    if war.state != "warEnded" and now < war.end_time:
        return f"Ends {timestamp(war.end_time)}"
    return f"Ended {timestamp(war.end_time)}"


def current_war_embed(clan: TrackedClan, current: CurrentWar, now: datetime) -> discord.Embed:
    war = current.war
    assert war is not None
    kind = f"CWL round {war.cwl_round}" if war.is_cwl and war.cwl_round else "War"
    embed = discord.Embed(
        title=f"{kind}: {literal(war.clan_name)} vs {literal(war.opponent_name)}",
        description=f"**{STATE_LABELS.get(war.state, war.state)}** · {_when(war, now)}",
        colour=discord.Colour.red() if war.state == "inWar" else discord.Colour.orange(),
    )
    per_side = war.team_size * war.attacks_per_member
    embed.add_field(
        name=f"{literal(war.clan_name)} ({war.clan_tag})",
        value=(
            f"{war.clan_stars}★ · {_percent(war.clan_destruction)}\n"
            f"Attacks: {war.clan_attacks}/{per_side}"
        ),
    )
    embed.add_field(
        name=f"{literal(war.opponent_name)} ({war.opponent_tag})",
        value=(
            f"{war.opponent_stars}★ · {_percent(war.opponent_destruction)}\n"
            f"Attacks: {war.opponent_attacks}/{per_side}"
        ),
    )
    left = attacks_left(war)
    heading = "Missed attacks" if war.state == "warEnded" else "Attacks left"
    lines = [
        f"{i}. {literal(a.member.name)} (TH{a.member.town_hall}): {a.left}"
        for i, a in enumerate(left, start=1)
    ]
    if war.state == "preparation":
        value = f"Every member: {war.attacks_per_member} each ({war.team_size} members)."
    else:
        value = _clipped_lines(lines) if lines else "None: every attack used."
    embed.add_field(name=f"{heading} ({sum(a.left for a in left)})", value=value, inline=False)
    footer = [f"{war.team_size} vs {war.team_size}", f"{war.attacks_per_member} attack(s) each"]
    if current.as_of is not None:
        footer.append("as of the last poll")
        embed.timestamp = current.as_of
    if current.private:
        footer.append("the clan's war log is private: only league wars are shown")
    embed.set_footer(text=" · ".join(footer))
    return embed


def not_in_war_text(clan: TrackedClan, current: CurrentWar) -> str:
    text = f"{literal(clan.name or clan.tag)} ({clan.tag}) is not in a war right now."
    last = current.last
    if last is not None:
        result = RESULT_LABELS.get(last["result"] or "", "ended")
        text += (
            f" Last war: {result.lower()} against {literal(last['opponent_name'])} "
            f"({last['clan_stars']}★ to {last['opponent_stars']}★), "
            f"ended {timestamp(last['end_time'])}."
        )
    return text


def _figures_line(f: AttackFigures) -> str:
    if not f.attacks:
        return "No attack"
    return (
        f"{f.attacks} attack(s) · {f.stars}★ ({f.avg_stars:.2f} avg) · "
        f"3★ {f.three_star_rate:.0%} · {_percent(f.avg_destruction)}"
    )


def player_record_embed(record: WarRecord) -> discord.Embed:
    who = f"{literal(record.name)} ({record.tag})" if record.name else record.tag
    embed = discord.Embed(
        title=f"War record: {who}",
        description=f"Wars for tracked clans over the last {record.days} day(s).",
        colour=discord.Colour.red(),
    )
    t = record.total
    wars = f"{record.wars}"
    if record.cwl_wars:
        wars += f" ({record.cwl_wars} CWL)"
    embed.add_field(name="Wars", value=wars)
    embed.add_field(name="Attacks used", value=f"{record.used}/{record.available}")
    embed.add_field(name="Missed", value=str(record.missed))
    embed.add_field(name="Stars", value=f"{t.stars} ({t.avg_stars:.2f} avg)")
    embed.add_field(name="Three-star rate", value=f"{t.three_star_rate:.0%} ({t.three_stars})")
    embed.add_field(name="Average destruction", value=_percent(t.avg_destruction))
    embed.add_field(
        name="By Town Hall difference",
        value="\n".join(
            f"{DIRECTION_LABELS[d]}: {_figures_line(record.by_direction[d])}" for d in Direction
        ),
        inline=False,
    )
    notes = ["CWL rounds allow one attack each"]
    if record.running:
        notes.append(f"{record.running} war(s) still running: attacks so far, none missed yet")
    if record.unseen:
        notes.append(
            f"{record.unseen} war(s) ended between two polls: attacks made after the last "
            "poll are not known by name"
        )
    embed.set_footer(text=" · ".join(notes))
    return embed


def missed_embed(
    clan: TrackedClan,
    days: int,
    rows: Sequence[asyncpg.Record],
    closed: asyncpg.Record,
    page: int,
    pages: int,
) -> discord.Embed:
    lines = [
        f"{literal(r['name'])} ({r['tag']}): **{r['missed']}** in {r['wars']} war(s)"
        + (" *" if r["uncertain"] else "")
        for r in rows
    ]
    embed = discord.Embed(
        title=f"Missed attacks: {literal(clan.name or clan.tag)}",
        description=(
            f"Wars that ended in the last {days} day(s): {closed['wars']}.\n\n"
            + ("\n".join(lines) if lines else "Nobody missed an attack.")
        )[:4096],
        colour=discord.Colour.dark_red(),
    )
    footer = [f"Page {page + 1}/{pages}"] if pages > 1 else []
    if closed["uncertain"]:
        footer.append(
            f"* {closed['uncertain']} war(s) ended between two polls and attacks after the "
            "last poll cannot be named: those counts may be too high"
        )
    if footer:
        embed.set_footer(text=" · ".join(footer))
    return embed


def _board_value(metric: Metric, value: float) -> str:
    if metric is Metric.AVG_DESTRUCTION:
        return _percent(value)
    return f"{int(value):,}"


def war_board_embed(
    board: WarBoard, entries: Sequence[Ranked], page: int, pages: int
) -> discord.Embed:
    lines = []
    for entry in entries:
        s = entry.standing
        text = f"{literal(s.name)} ({s.tag}) — {_board_value(board.metric, s.value)}"
        lines.append(f"`{entry.rank:>4}.` " + (f"**{MINE} {text}**" if s.mine else text))
    embed = discord.Embed(
        title=f"{METRIC_LABELS[board.metric]}: last {board.days} day(s)",
        description="\n".join(lines)[:4096] or "-",
        colour=discord.Colour.red(),
    )
    footer = [f"Page {page + 1}/{pages}", f"{len(board.ranked)} players ranked"]
    if board.without_attacks:
        footer.append(f"{board.without_attacks} with wars but no attack yet")
    embed.set_footer(text=" · ".join(footer))
    return embed
