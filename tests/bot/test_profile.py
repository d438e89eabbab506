from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.profile import parse_player
from db.model import STATS

PAYLOADS = Path(__file__).resolve().parents[1] / "fakes" / "payloads"


def load(name: str) -> dict:
    return json.loads((PAYLOADS / f"{name}.json").read_text())


def test_th18_payload_parses_every_shown_field() -> None:
    p = parse_player(load("player_th18"))
    assert (p.tag, p.name, p.town_hall, p.exp_level) == ("#2PP", "Example Player", 18, 260)
    assert (p.trophies, p.best_trophies, p.war_stars) == (750, 6085, 3125)
    assert (p.donations, p.donations_received) == (55, 59)
    assert (p.builder_trophies, p.best_builder_trophies) == (4704, 4846)
    assert p.capital_contributions == 3743578
    assert p.league == "Electro League 33"
    assert p.clan_tag and p.clan_name and p.role == "leader"
    # Home heroes only, including one coc.py's hard-coded list drops.
    assert p.heroes["Dragon Duke"] == 1 and "Battle Machine" not in p.heroes
    assert len(p.heroes) == 6


def test_clan_member_league_object_is_accepted() -> None:
    member = load("clan")["memberList"][0]
    member = {k: v for k, v in member.items() if k != "leagueTier"}
    assert parse_player(member).league == "Unranked"


def test_missing_and_wrongly_typed_fields_read_as_zero() -> None:
    p = parse_player({"tag": "#2PP", "trophies": "lots", "attackWins": True})
    assert p.trophies == 0 and p.attack_wins == 0 and p.clan_tag is None and p.heroes == {}
    assert all(p.stat(s) == 0 for s in STATS)


def test_a_payload_without_tag_is_rejected() -> None:
    with pytest.raises(ValueError):
        parse_player({"name": "x"})
