"""Embeds shown to users. Player-controlled text is always escaped."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import discord

from db.model import PlayerProfile

ROLE_NAMES = {"leader": "Leader", "coLeader": "Co-leader", "admin": "Elder", "member": "Member"}


def literal(text: str | None) -> str:
    """Show user or player supplied text exactly as written: no markdown, no mentions."""
    if not text:
        return "-"
    return discord.utils.escape_mentions(discord.utils.escape_markdown(text))


def timestamp(moment: datetime, style: str = "R") -> str:
    return discord.utils.format_dt(moment, style)  # type: ignore[arg-type]


def player_embed(
    profile: PlayerProfile,
    *,
    tracked_since: datetime | None = None,
    last_change: str | None = None,
    last_change_at: datetime | None = None,
) -> discord.Embed:
    embed = discord.Embed(
        title=f"{literal(profile.name)} ({profile.tag})",
        colour=discord.Colour.gold(),
        url=f"https://link.clashofclans.com/en?action=OpenPlayerProfile&tag={profile.tag[1:]}",
    )
    embed.add_field(name="Town Hall", value=str(profile.town_hall))
    embed.add_field(name="Experience", value=str(profile.exp_level))
    embed.add_field(name="League", value=literal(profile.league) if profile.league else "Unranked")
    embed.add_field(name="Trophies", value=f"{profile.trophies:,} (best {profile.best_trophies:,})")
    embed.add_field(name="War stars", value=f"{profile.war_stars:,}")
    embed.add_field(
        name="Attack / defense wins", value=f"{profile.attack_wins:,} / {profile.defense_wins:,}"
    )
    embed.add_field(
        name="Donations / received",
        value=f"{profile.donations:,} / {profile.donations_received:,}",
    )
    embed.add_field(
        name="Builder base trophies",
        value=f"{profile.builder_trophies:,} (best {profile.best_builder_trophies:,})",
    )
    if profile.clan_tag:
        role = ROLE_NAMES.get(profile.role or "", literal(profile.role))
        clan = f"{literal(profile.clan_name)} ({profile.clan_tag})\n{role}"
    else:
        clan = "Not in a clan"
    embed.add_field(name="Clan", value=clan)
    if profile.heroes:
        heroes = "\n".join(f"{literal(n)}: {lvl}" for n, lvl in profile.heroes.items())
        embed.add_field(name="Heroes", value=heroes[:1024], inline=False)
    if tracked_since is not None:
        tracking = f"Tracked since {timestamp(tracked_since, 'D')}"
        if last_change and last_change_at:
            tracking += f"\nLast change: {literal(last_change)} {timestamp(last_change_at)}"
        embed.add_field(name="Tracking", value=tracking, inline=False)
    return embed


def name_list(names: Sequence[str], limit: int = 1000) -> str:
    """Names (escaped), comma-separated, within ``limit`` characters (an embed field
    holds 1,024): what does not fit is counted."""
    shown: list[str] = []
    used = 0
    for index, name in enumerate(names):
        text = literal(name)
        if used + len(text) + 2 > limit - 20:
            shown.append(f"and {len(names) - index} more")
            break
        shown.append(text)
        used += len(text) + 2
    return ", ".join(shown)
