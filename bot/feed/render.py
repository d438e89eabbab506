"""Feed posts: an event in words, as an embed, and a batch as one Discord message."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import discord

from bot.embeds import ROLE_NAMES, literal, name_list
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
    "war_attack": discord.Colour.red(),
    "war_end": discord.Colour.dark_red(),
    "raid_end": discord.Colour.dark_gold(),
    "clan_games": discord.Colour.gold(),
    "ranked_week": discord.Colour.purple(),
}
# Events of a clan, not of a player: the clan's name comes with the event.
CLAN_KINDS = {"war_end", "raid_end"}
# Characters of names listed in one post.
NAMES_LIMIT = 1500


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
    if kind == "war_attack":
        return _war_attack(event)
    if kind == "war_end":
        return _war_end(event)
    if kind == "raid_end":
        return _raid_end(event)
    if kind == "clan_games":
        return _clan_games(event)
    if kind == "ranked_week":
        return _ranked_week(event)
    return f"{literal(label)}: {literal(old)} → {literal(new)}"


def _stars(count: int | None) -> str:
    n = max(0, min(3, count or 0))
    return "★" * n + "☆" * (3 - n)


def _war_attack(event: FeedEvent) -> str:
    d = event.detail
    defender = literal(d.get("defender_name") or d.get("defender"))
    th = f" (TH{d['defender_th']})" if d.get("defender_th") else ""
    league = " in the CWL" if d.get("cwl") else ""
    return (
        f"War attack{league} on {defender}{th}: {_stars(event.delta)} "
        f"{_percent(d.get('destruction'))} against {literal(d.get('opponent_name'))}"
    )


def _war_end(event: FeedEvent) -> str:
    d = event.detail
    result = {"win": "Won", "lose": "Lost", "tie": "Tied"}.get(d.get("result") or "", "Ended")
    score = (
        f"{d.get('clan_stars', 0)}★ {_percent(d.get('clan_destruction'))} to "
        f"{d.get('opponent_stars', 0)}★ {_percent(d.get('opponent_destruction'))}"
    )
    text = f"{result} the war against {literal(d.get('opponent_name'))}: {score}"
    if d.get("closed_how") == "unseen":
        unseen = d.get("attacks_unseen")
        if unseen == 0:
            text += " (ended between two polls; completed from the war log)"
        elif isinstance(unseen, int):
            text += (
                f" (ended between two polls: {unseen} attack(s) made after the last poll "
                "are not known by name, so fewer may have been missed)"
            )
        else:
            text += " (ended between two polls: as last seen, so fewer may have been missed)"
    missed = d.get("missed") or []
    if missed:
        names = ", ".join(
            f"{literal(m.get('name') or m.get('tag'))}"
            + (f" ×{m['missed']}" if (m.get("missed") or 1) > 1 else "")
            for m in missed[:25]
        )
        more = f" and {len(missed) - 25} more" if len(missed) > 25 else ""
        text += f". Missed attacks: {names}{more}"
    else:
        text += ". No attack missed"
    return text


def _raid_end(event: FeedEvent) -> str:
    d = event.detail
    text = (
        f"Raid weekend ended: {_number(str(d.get('looted', 0)))} capital gold looted in "
        f"{d.get('attacks', 0)} attacks by {d.get('raiders', 0)} members, "
        f"{d.get('raids_completed', 0)} raids completed, "
        f"{d.get('districts_destroyed', 0)} districts destroyed; rewards "
        f"{d.get('offensive_reward', 0)} offensive + {d.get('defensive_reward', 0)} defensive"
    )
    top = d.get("top") or []
    if top:
        text += ". Top looters: " + ", ".join(
            f"{literal(t.get('name') or t.get('tag'))} {_number(str(t.get('looted', 0)))}"
            for t in top
        )
    idle = d.get("non_raiders")
    if idle is None:
        text += ". Who did not raid is unknown (no member list was read during the weekend)"
    elif idle:
        text += f". Did not raid: {name_list(idle, NAMES_LIMIT)}"
    else:
        text += ". Every member raided"
    return text


def _clan_games(event: FeedEvent) -> str:
    d = event.detail
    clan = d.get("clan_name") or d.get("clan")
    where = f" for {literal(clan)}" if clan else ""
    return f"Reached the clan games maximum of {_number(event.new_value)} points{where}"


def _ranked_week(event: FeedEvent) -> str:
    d = event.detail
    place = f"placed #{d['placement']}" if isinstance(d.get("placement"), int) else "unplaced"
    wins = d.get("attack_wins")
    of = f" of {d['max_battles']}" if d.get("max_battles") else ""
    text = (
        f"Ranked week ended in {literal(event.old_value)}: {place}, "
        f"{_number(str(d.get('league_trophies', 0)))} league trophies, {wins} attack wins{of}"
    )
    outcome = d.get("outcome")
    if outcome == "promoted":
        text += f"; promoted to {literal(event.new_value)}"
    elif outcome == "demoted":
        text += f"; demoted to {literal(event.new_value)}"
    elif outcome == "stayed":
        text += f"; stays in {literal(event.new_value)}"
    return text


def _percent(value: object) -> str:
    return f"{value:.1f}%" if isinstance(value, int | float) else "?%"


def event_embed(event: FeedEvent) -> discord.Embed:
    colour = COLOURS.get(event.kind, discord.Colour.light_grey())
    if event.kind in ("trophies", "builder_trophies") and event.delta is not None:
        colour = discord.Colour.green() if event.delta > 0 else discord.Colour.red()
    shown = event.detail.get("clan_name") if event.kind in CLAN_KINDS else event.name
    name = literal(shown or event.name or event.tag)
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
