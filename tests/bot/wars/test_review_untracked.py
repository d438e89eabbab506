"""A clan nobody tracks any more, from the reviews: its open war is closed 'untracked'
at once, a poll in flight writes nothing after it, and it reopens only while it runs."""

from __future__ import annotations

from datetime import timedelta

from db import feeds, guild_tracking
from tests.bot.wars.conftest import CLAN, GUILD, OPPONENT, WarEnv, war_start
from tests.bot.wars.review_helpers import OURS, THEIRS, battle_war, outbox
from tests.fakes.wars import ScriptedWar, lineup

# A clan untracked mid-war by its only guild, tracked again weeks later: its open war
# was closed 'untracked' then, so nothing old is posted to the new guild's feed and no
# missed attacks are counted for it.

LATER_GUILD, LATER_CHANNEL = 7000, 7001


async def test_retracking_a_clan_weeks_later_posts_nothing_old(wenv: WarEnv) -> None:
    """Timeline: guild 5000 tracks the clan; war A is polled in battle (Ann attacked once);
    the guild untracks the clan mid-war (no guild tracks it: its war_polls row is deleted,
    the wars row stays open). 30 days later another guild (7000, feed on) tracks the clan,
    which is not in war. First poll: A is 'ended unseen', closed, and a war_end for a war
    that ended a month ago, before guild 7000 tracked anything, is queued to guild 7000's
    feed ("Ended the war against Their Clan ... Missed attacks: Ann, Bob x2, Cid x2").

    Right: no feed post for a war that ended while nobody tracked the clan (close open wars
    without an event when the last guild untracks, or never post a war_end for a war whose
    end is far older than the poll/tracking start)."""
    await wenv.track_clan()
    war = ScriptedWar(
        CLAN,
        "Our Clan",
        OPPONENT,
        "Their Clan",
        lineup(OURS, names=["Ann", "Bob", "Cid"]),
        lineup(THEIRS),
        preparation_start=war_start(wenv.clock, battle_left=timedelta(hours=10)),
    )
    war.begin_battle()
    war.attack(OURS[0], THEIRS[0], 2, 60)
    wenv.api.serve_war(war)
    poller = await wenv.poller()
    await wenv.poll(poller)
    async with wenv.pool.acquire() as con:
        assert await guild_tracking.untrack_clan(con, GUILD, CLAN)
    wenv.api.set_war(CLAN, None)  # a month later: not in war

    wenv.clock.advance(days=30)
    async with wenv.pool.acquire() as con:
        await feeds.set_feed(con, LATER_GUILD, LATER_CHANNEL, None, 1)
        await guild_tracking.track_clan(con, LATER_GUILD, CLAN, None, 1)
    await wenv.poll(poller)

    queued = await wenv.fetch(
        "SELECT e.kind, e.detail->>'opponent' AS opponent FROM feed_outbox o "
        "JOIN player_events e ON e.id = o.event_id WHERE o.guild_id = $1",
        LATER_GUILD,
    )
    assert [dict(q) for q in queued] == [], "a month-old war's end posted to a new guild"


# The last guild untracks the clan while a war poll of it is in flight: the poll's write
# waits for (or sees) the untrack, and no war is left open with nobody polling its clan.
# (Review: the poll reopened the war the untrack had just closed.)


async def test_a_poll_racing_the_untrack_does_not_leave_an_open_unpolled_war(wenv: WarEnv) -> None:
    await wenv.track_clan()
    war = battle_war(wenv)
    war.attack(OURS[0], THEIRS[0], 2, 60)
    wenv.api.serve_war(war)
    poller = await wenv.poller()
    await wenv.poll(poller)

    real = poller.clash.get_current_war

    async def racing(clan_tag, **kw):
        body = await real(clan_tag, **kw)
        async with wenv.pool.acquire() as con:  # /track remove clan commits meanwhile
            assert await guild_tracking.untrack_clan(con, GUILD, CLAN)
        return body

    poller.clash.get_current_war = racing  # type: ignore[method-assign]
    await wenv.poll(poller)
    poller.clash.get_current_war = real  # type: ignore[method-assign]
    wenv.clock.advance(days=3)
    await wenv.poll(poller)

    rows = await wenv.fetch("SELECT closed_at, closed_how FROM wars")
    polled = await wenv.value("SELECT count(*) FROM war_polls WHERE clan_tag = $1", CLAN)
    assert not (rows[0]["closed_at"] is None and polled == 0), (
        "war reopened after the untrack, and nobody will ever poll or close it"
    )


# A war closed 'untracked' reopens only while it runs: tracked again after its end
# (/currentwar still serves it warEnded), nothing made while nobody tracked the clan is
# posted to the new guild's feed.

LATER_GUILD, LATER_CHANNEL = 7000, 7001


async def test_retracked_after_the_end_posts_nothing_old(wenv: WarEnv) -> None:
    await wenv.track_clan()
    war = battle_war(wenv, hours_left=10)
    war.attack(OURS[0], THEIRS[0], 2, 60)
    wenv.api.serve_war(war)
    poller = await wenv.poller()
    await wenv.poll(poller)
    async with wenv.pool.acquire() as con:
        assert await guild_tracking.untrack_clan(con, GUILD, CLAN)
    war.attack(OURS[1], THEIRS[1], 3, 100)  # while nobody tracks the clan
    war.end()
    wenv.clock.advance(days=1)  # ended 14 h ago; the API still shows it
    async with wenv.pool.acquire() as con:
        await feeds.set_feed(con, LATER_GUILD, LATER_CHANNEL, None, 1)
        await guild_tracking.track_clan(con, LATER_GUILD, CLAN, None, 1)
    await wenv.poll(poller)

    queued = await outbox(wenv, LATER_GUILD)
    how = await wenv.value("SELECT closed_how FROM wars")
    assert queued == [], "a war that ended while untracked is posted to the new guild"
    assert how == "untracked"
