"""/raids and the capital loot leaderboard through the fake Discord and the fake API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.raids.poller import RaidPoller
from tests.cogs.activity_helpers import CLAN, member, poll, publish, track_clan
from tests.fakes.raids import RaidWeekend
from tests.harness import Harness, opt

ANN, BOB, CID = "#8QQ", "#8RR", "#8UU"


async def poll_raids(harness: Harness) -> int:
    async with harness.pool.acquire() as con:
        await con.execute("UPDATE raid_polls SET next_poll_at = now() - interval '1 s'")
    poller = RaidPoller(settings=harness.settings, pool=harness.pool, clash=harness.bot.clash)
    return await poller.run_once()


async def test_a_clan_with_no_raid_data(harness: Harness) -> None:
    await track_clan(harness)
    publish(harness, [member(ANN, "Ann")])
    await poll(harness)
    await poll_raids(harness)  # the API knows no weekend of this clan
    reply = await harness.run("raids")
    assert reply.ephemeral
    assert "No raid weekend is recorded for Our Clan (#2PP) yet" in reply.content
    reply = await harness.run("leaderboard", opt("stat", "capital_looted"))
    assert reply.ephemeral and "No raid weekend is recorded" in reply.content


async def test_the_latest_weekend_and_the_one_before(harness: Harness) -> None:
    await track_clan(harness)
    publish(harness, [member(ANN, "Ann"), member(BOB, "Bob"), member(CID, "Cid")])
    await poll(harness)  # the members are tracked
    now = datetime.now(UTC)
    older = RaidWeekend(now - timedelta(days=8), state="ended")
    older.attack(BOB, "Bob", 2_000, attacks=2)
    current = RaidWeekend(now - timedelta(hours=20))
    current.attack(ANN, "Ann", 21_000, attacks=6, bonus=True)
    current.attack(BOB, "Bob", 4_000, attacks=2)
    harness.coc.serve_raids(CLAN, [older, current])
    await poll_raids(harness)
    await poll(harness)  # a member list read while the weekend runs: its roster

    reply = await harness.run("raids")
    embed = reply.embeds[0]
    assert embed["title"] == "Raid weekend of Our Clan (#2PP)"
    lines = embed["description"].splitlines()
    assert "(running, ends <t:" in lines[0]
    assert lines[1].startswith("**25,000** capital gold looted in 8 attacks by 2 members")
    assert "`  1.` Ann — 6/6 attacks — 21,000 gold" in lines
    assert "`  2.` Bob — 2/5 attacks — 4,000 gold" in lines
    assert embed["fields"] == [{"name": "Did not raid (1)", "value": "Cid", "inline": False}]

    reply = await harness.run("raids", opt("clan", CLAN), opt("weekend", 1, 4))
    embed = reply.embeds[0]
    assert "(ended)" in embed["description"].splitlines()[0]
    assert "`  1.` Bob — 2/5 attacks — 2,000 gold" in embed["description"]
    # No member list was read while that weekend ran: who did not raid is not known.
    assert embed["fields"][0]["value"].startswith("Not known")

    reply = await harness.run("raids", opt("weekend", 5, 4))
    assert reply.ephemeral and "No raid weekend 5 week(s) back" in reply.content

    board = await harness.run("leaderboard", opt("stat", "capital_looted"))
    text = board.embeds[0]["description"]
    assert board.embeds[0]["title"] == "Capital gold looted (latest raid weekend)"
    assert text.index("Ann") < text.index("Bob") < text.index("Cid")
    assert "21,000" in text and "4,000" in text


async def test_weekend_out_of_bounds_is_refused(harness: Harness) -> None:
    reply = await harness.run("raids", opt("weekend", 53, 4))
    assert reply.ephemeral and "from 0 to 52" in reply.content


async def test_weekend_counts_weeks_not_stored_weekends(harness: Harness) -> None:
    """The clan was not tracked a week ago: `weekend:1` has no weekend, `weekend:2` the one
    two weeks back."""
    await track_clan(harness)
    publish(harness, [member(ANN, "Ann")])
    await poll(harness)
    now = datetime.now(UTC)
    two_back = RaidWeekend(now - timedelta(days=14, hours=20), state="ended")
    two_back.attack(ANN, "Ann", 7_000, attacks=3)
    harness.coc.serve_raids(CLAN, [two_back, RaidWeekend(now - timedelta(hours=20))])
    await poll_raids(harness)
    reply = await harness.run("raids", opt("weekend", 1, 4))
    assert reply.ephemeral and "No raid weekend 1 week(s) back" in reply.content
    reply = await harness.run("raids", opt("weekend", 2, 4))
    assert "`  1.` Ann — 3/5 attacks — 7,000 gold" in reply.embeds[0]["description"]
