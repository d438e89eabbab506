"""A mapping's value, checked and made canonical: a Town Hall level, a league tier's
name, a tracked clan's tag."""

from __future__ import annotations

import logging

import asyncpg

from bot.battles.parse import BattlePayloadError, league_tiers
from bot.clans import resolve_clan
from bot.clash import ClashApi
from bot.errors import InvalidOption, UserFacingError
from bot.roles.rules import CLAN_KINDS, KINDS, MAX_TOWN_HALL, RANK_OF_KIND
from db import league_weeks, roles

log = logging.getLogger(__name__)

RANK_WORDS = {"clan_leader": "leader", "clan_coleader": "co-leader", "clan_elder": "elder"}


async def known_tiers(clash: ClashApi, con: asyncpg.Connection) -> dict[int, str]:
    """League tier names by id, read from the API once and kept."""
    tiers = await roles.league_tiers(con)
    if tiers:
        return tiers
    try:
        tiers = league_tiers(await clash.get_league_tiers())
    except (UserFacingError, BattlePayloadError) as exc:
        log.info("league tiers not read: %s", type(exc).__name__)
        return {}
    await league_weeks.save_tiers(con, tiers)
    return tiers


async def canonical(
    clash: ClashApi, con: asyncpg.Connection, guild_id: int, kind: str, raw: str | None
) -> tuple[str, str]:
    """``(value as stored, value as shown)``; ``InvalidOption``/``NoData`` if it is not one."""
    if kind not in KINDS:
        raise InvalidOption(f"Choose a kind from the list: {', '.join(KINDS)}.")
    text = (raw or "").strip()
    if kind == "verified":
        return "", "verified link"
    if kind == "town_hall":
        digits = text.upper().removeprefix("TH").strip()
        if not digits.isdecimal() or not 1 <= int(digits) <= MAX_TOWN_HALL:
            raise InvalidOption(f"A Town Hall level is a number from 1 to {MAX_TOWN_HALL}.")
        return str(int(digits)), f"Town Hall {int(digits)}"
    if kind == "league":
        tiers = await known_tiers(clash, con)
        if not tiers:
            raise InvalidOption(
                "The league tiers could not be read from the Clash of Clans API. Try again."
            )
        name = next((n for n in tiers.values() if n.lower() == text.lower()), None)
        if name is None:
            raise InvalidOption("That is not a league tier's name: pick one from the list.")
        return name, name
    assert kind in CLAN_KINDS
    clan = await resolve_clan(con, guild_id, text or None)
    word = f"{RANK_WORDS[kind]}s of " if kind in RANK_OF_KIND else "members of "
    return clan.tag, word + clan.shown


def shown(kind: str, value: str) -> str:
    """A stored mapping's value as /roles show names it."""
    if kind == "verified":
        return "verified link"
    if kind == "town_hall":
        return f"Town Hall {value}"
    if kind == "league":
        return value
    if kind in RANK_OF_KIND:
        return f"{RANK_WORDS[kind]}s of {value}"
    return f"members of {value}"
