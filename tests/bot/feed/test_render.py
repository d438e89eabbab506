"""The feed's posts: an event in words and as an embed; the kinds filter."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.feed.render import batch_payload, describe_change, event_embed
from cogs.feed import UnknownEventKind, parse_kinds, suggest_kinds
from db.feeds import Batch, FeedEvent
from tests.harness import GUILD_ID

CHANNEL = 5001
TAG = "#2PP0JCCL"
WHEN = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def event(kind: str, old: str | None = None, new: str | None = None, **kw: Any) -> FeedEvent:
    return FeedEvent(
        id=kw.get("id", 1),
        tag=TAG,
        name=kw.get("name", "Bob"),
        occurred_at=WHEN,
        kind=kind,
        old_value=old,
        new_value=new,
        delta=kw.get("delta"),
        detail=kw.get("detail", {}),
    )


# -- rendering and the kinds filter ---------------------------------------------------


@pytest.mark.parametrize(
    ("ev", "text"),
    [
        (event("trophies", "5000", "5031", delta=31), "Trophies +31 (5,000 → 5,031)"),
        (event("trophies", "5031", "5000", delta=-31), "Trophies -31 (5,031 → 5,000)"),
        (event("town_hall", "15", "16", delta=1), "Town Hall 15 → 16"),
        (
            event("hero", "94", "95", delta=1, detail={"hero": "Archer Queen"}),
            "Hero upgrade: Archer Queen 94 → 95",
        ),
        (event("donations", delta=120), "Donations +120"),
        (
            event("clan_join", None, "#2Q9VRJ0", detail={"clan_name": "The *Best*"}),
            "Joined clan The \\*Best\\* (#2Q9VRJ0)",
        ),
        (event("clan_leave", "#2Q9VRJ0", None, detail={"clan_name": "X"}), "Left clan X"),
        (event("role", "member", "admin"), "Clan role Member → Elder"),
        (event("name", "Old", "New"), "Renamed from Old to New"),
        (event("league", None, "Legend League"), "League Unranked → Legend League"),
        (event("gone"), "Account no longer found"),
        (event("mystery", "a", "b"), "mystery: a → b"),
        (
            event(
                "ranked_week",
                "Electro League 32",
                "Electro League 33",
                detail={
                    "placement": 3,
                    "league_trophies": 1174,
                    "attack_wins": 24,
                    "max_battles": 30,
                    "outcome": "promoted",
                },
            ),
            "Ranked week ended in Electro League 32: placed #3, 1,174 league trophies, "
            "24 attack wins of 30; promoted to Electro League 33",
        ),
        (
            event("ranked_week", "Skeleton League 1", None, detail={"outcome": "unknown"}),
            "Ranked week ended in Skeleton League 1: unplaced, 0 league trophies",
        ),
    ],
)
def test_describe_change(ev: FeedEvent, text: str) -> None:
    assert describe_change(ev).startswith(text)


def test_embed_escapes_the_name_and_carries_time_and_colour() -> None:
    embed = event_embed(event("trophies", "1", "2", delta=1, name="@everyone _x_")).to_dict()
    assert embed["description"].startswith("**@\u200beveryone \\_x\\_** (#2PP0JCCL): Trophies +1")
    assert embed["timestamp"].startswith("2026-03-10T12:00:00")
    assert embed["color"] == 0x2ECC71  # a gain is green
    assert event_embed(event("trophies", "2", "1", delta=-1)).colour != embed["color"]
    payload = batch_payload(Batch(42, GUILD_ID, CHANNEL, 0), [event("gone")])
    assert payload["nonce"] == "feed-42" and len(payload["nonce"]) <= 25
    assert payload["enforce_nonce"] is True
    assert payload["allowed_mentions"] == {"parse": []}


def test_parse_kinds() -> None:
    assert parse_kinds(None) is None
    assert parse_kinds(" ") is None
    assert parse_kinds("all") is None
    assert parse_kinds("hero, Town Hall;TROPHIES, town_hall") == ["trophies", "town_hall", "hero"]
    assert parse_kinds("Town Hall upgrade, joined a clan") == ["town_hall", "clan_join"]
    with pytest.raises(UnknownEventKind) as info:
        parse_kinds("trophies, gold")
    assert "`gold`" in info.value.message and "town_hall" in info.value.message


def test_suggest_kinds_completes_the_last_item() -> None:
    assert ("all (every kind of change)", "all") in suggest_kinds("")
    assert len(suggest_kinds("")) <= 25
    values = [v for _, v in suggest_kinds("trophies, tow")]
    assert values == ["trophies, town_hall"]
    assert all(not v.startswith("trophies, trophies") for _, v in suggest_kinds("trophies,"))
    assert all(len(n) <= 100 and len(v) <= 100 for n, v in suggest_kinds("x" * 200 + ",h"))
