"""Feed posts: an event in words, as an embed, and a batch as one Discord message."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import discord

from bot.embeds import ROLE_NAMES, literal
from bot.tracker.events import EVENT_KINDS
from db.feeds import Batch, FeedEvent

TAG_RE = re.compile(r"#[0-9A-Z]{1,15}")
NUMERIC_KINDS = {"trophies", "builder_trophies", "war_stars", "capital", "best_trophies"}
LEVEL_KINDS = {"town_hall": "Town Hall", "exp_level": "Experience level"}
COLOURS: dict[str, discord.Colour] = {
    "best_trophies": discord.Colour.gold(),
    "town_hall": discord.Colour.gold(),
    "hero": discord.Colour.purple(),
    "exp_level": discord.Colour.teal(),
    "war_stars": discord.Colour.orange(),
    "donations": discord.Colour.blue(),
    "received": discord.Colour.blue(),
    "capital": discord.Colour.dark_teal(),
    "clan_join": discord.Colour.green(),
    "clan_leave": discord.Colour.dark_orange(),
    "gone": discord.Colour.dark_grey(),
}


def _number(value: str | None) -> str:
    try:
        return f"{int(value or ''):,}"
    except ValueError:
        return literal(value)


def _tag(value: str | None) -> str:
    # Tags come from the API; markdown-escaping one would show a stray backslash.
    return value if value and TAG_RE.fullmatch(value) else literal(value)


def describe_change(event: FeedEvent) -> str:
    """The change in words, e.g. ``Trophies +31 (5,000 → 5,031)``."""
    kind, old, new, delta = event.kind, event.old_value, event.new_value, event.delta
    label = EVENT_KINDS.get(kind, kind)
    signed = f"{delta:+,}" if delta is not None else ""
    if kind in NUMERIC_KINDS:
        return f"{label} {signed} ({_number(old)} → {_number(new)})"
    if kind in LEVEL_KINDS:
        return f"{LEVEL_KINDS[kind]} {_number(old)} → {_number(new)}"
    if kind == "hero":
        hero = literal(str(event.detail.get("hero") or "hero"))
        return f"Hero upgrade: {hero} {_number(old)} → {_number(new)}"
    if kind in ("donations", "received"):
        return f"{label} {signed}"
    if kind in ("clan_join", "clan_leave"):
        clan = literal(event.detail.get("clan_name"))
        verb = "Joined" if kind == "clan_join" else "Left"
        return f"{verb} clan {clan} ({_tag(new if kind == 'clan_join' else old)})"
    if kind == "role":
        return f"Clan role {ROLE_NAMES.get(old or '', literal(old))} → " + ROLE_NAMES.get(
            new or "", literal(new)
        )
    if kind == "name":
        return f"Renamed from {literal(old)} to {literal(new)}"
    if kind == "league":
        return f"League {literal(old or 'Unranked')} → {literal(new or 'Unranked')}"
    if kind == "gone":
        return "Account no longer found in Clash of Clans"
    return f"{literal(label)}: {literal(old)} → {literal(new)}"


def event_embed(event: FeedEvent) -> discord.Embed:
    colour = COLOURS.get(event.kind, discord.Colour.light_grey())
    if event.kind in ("trophies", "builder_trophies") and event.delta is not None:
        colour = discord.Colour.green() if event.delta > 0 else discord.Colour.red()
    name = literal(event.name or event.tag)
    return discord.Embed(
        description=f"**{name}** ({_tag(event.tag)}): {describe_change(event)}"[:4096],
        colour=colour,
        timestamp=event.occurred_at,
    )


def batch_payload(batch: Batch, events: Sequence[FeedEvent]) -> dict[str, Any]:
    return {
        "embeds": [event_embed(e).to_dict() for e in events],
        # At most 25 characters; a batch id is unique for good, an event id is
        # not (one event goes to every guild that tracks the player).
        "nonce": f"feed-{batch.id}",
        "enforce_nonce": True,
        "allowed_mentions": {"parse": []},
    }


def refusal_reason(exc: discord.HTTPException, channel_id: int) -> str:
    detail = f"{exc.status} {exc.text or type(exc).__name__}"
    if exc.status == 404:
        return (
            f"The channel <#{channel_id}> no longer exists ({detail}). Pick another with /feed set."
        )
    return (
        f"Discord refused to let the bot post in <#{channel_id}> ({detail}). Give the bot "
        "View Channel, Send Messages and Embed Links there, then run /feed set again."
    )
