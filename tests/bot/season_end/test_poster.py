"""Season-end summaries through the real bot and the fake Discord, on an injected clock:
one post per guild and season, across restarts, downtime over the boundary, two
processes and a crash between the post and its record."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.embeds import literal
from bot.season_end.poster import SeasonSummaries
from bot.season_end.summary import SUMMARY_DELAY
from db import season_summaries
from tests.db.test_history import seed_player, seed_season
from tests.fakes.discord_server import Message
from tests.harness import GUILD_ID, Harness, bot_on, fakes

FEED = 7400
START = datetime(2026, 9, 28, 5, tzinfo=UTC)  # coc.py's season: last Monday, 05:00 UTC
END = datetime(2026, 10, 26, 5, tzinfo=UTC)
DUE = END + SUMMARY_DELAY
HOSTILE = "@everyone **=cmd|' /C calc'!A0** <@&1>"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def poster(harness: Harness) -> SeasonSummaries:
    cog: Any = harness.bot.get_cog("FeedCog")
    assert cog is not None
    return cog.summaries


async def settle(summaries: SeasonSummaries) -> None:
    for _ in range(2):  # the cycle under way may have read the clock before
        done = summaries.cycle_done
        summaries.wake()
        await asyncio.wait_for(done.wait(), 15)


async def world(harness: Harness) -> None:
    """A feed, and players tracked since before the season with its numbers."""
    pool = harness.pool
    await pool.execute(
        "INSERT INTO feeds (guild_id, channel_id, updated_by, enabled_since) "
        "VALUES ($1, $2, 1, $3)",
        GUILD_ID,
        FEED,
        START - timedelta(days=10),
    )
    before = START - timedelta(days=3)
    await seed_player(pool, "#2PP", "Alpha", [
        (before, {"trophies": 1000, "war_stars": 100}),
        (START + timedelta(days=5), {"trophies": 1300, "war_stars": 112}),
        (END + timedelta(hours=1), {"trophies": 900, "war_stars": 150}),  # next season's
    ])  # fmt: skip
    await seed_player(pool, "#2PQ", HOSTILE, [
        (before, {"trophies": 2000, "war_stars": 10}),
        (END - timedelta(days=1), {"trophies": 2100, "war_stars": 13}),
    ])  # fmt: skip
    await seed_player(pool, "#2PR", "Late", [(START + timedelta(days=10), {"trophies": 500})])
    # Tracked since the season began: the season before is not theirs to sum up.
    await pool.execute("UPDATE tracked_players SET added_at = $1", START + timedelta(hours=1))
    await seed_season(pool, "#2PP", START, 900, 50)
    await seed_season(pool, "#2PQ", START, 1200, 0)
    await seed_season(pool, "#2PP", END, 9999, 9999)  # the next season's: not counted
    await pool.execute(
        """INSERT INTO raid_weekends (clan_tag, start_time, end_time, state, first_seen_at,
               read_at)
           SELECT '#2CC', s, s + interval '3 days', 'ended', s, s
           FROM unnest(ARRAY[$1, $2]::timestamptz[]) AS u (s)""",
        END - timedelta(days=3, hours=-2),  # the season's last weekend (starts Friday 07:00)
        START - timedelta(days=3, hours=-2),  # the weekend before the season
    )
    await pool.execute(
        """INSERT INTO raid_members (clan_tag, start_time, tag, name, attacks, attack_limit,
               bonus_attack_limit, looted) VALUES
               ('#2CC', $1, '#2PP', 'Alpha', 6, 5, 1, 25000),
               ('#2CC', $2, '#2PQ', 'x', 6, 5, 1, 99999)""",
        END - timedelta(days=3, hours=-2),
        START - timedelta(days=3, hours=-2),
    )
    # September's games ended in the season (on the 28th, hours after it began);
    # October's still run when the summary is posted.
    await pool.execute(
        "INSERT INTO clan_games_players (month, tag, points) VALUES ($1, '#2PQ', 4000), "
        "($2, '#2PP', 150)",
        date(2026, 9, 1),
        date(2026, 10, 1),
    )


async def summary_row(harness: Harness) -> Any:
    return await harness.pool.fetchrow(
        "SELECT * FROM season_summaries WHERE guild_id = $1 AND season_end = $2", GUILD_ID, END
    )


def summaries_in(harness: Harness) -> list[Message]:
    return [
        m
        for m in harness.discord.live_messages(FEED)
        if m.embeds and m.embeds[0]["title"].startswith("🏁")
    ]


def fields(message: Message) -> dict[str, str]:
    return {f["name"].split(" (")[0]: f["value"] for f in message.embeds[0]["fields"]}


@pytest.fixture
async def harness(db_dsn: str, tmp_path: Path) -> AsyncIterator[Harness]:
    async with fakes() as (discord, coc):
        discord.add_channel(GUILD_ID, FEED, name="feed")
        async with bot_on(discord, coc, db_dsn, tmp_path) as h:
            yield h


async def test_one_summary_at_the_season_end_with_the_seasons_leaders(harness: Harness) -> None:
    await world(harness)
    clock = Clock(END - timedelta(hours=1))
    harness.bot.clock = clock
    summaries = poster(harness)
    await settle(summaries)
    assert summaries_in(harness) == []  # the season has not ended
    clock.now = END + timedelta(hours=1)
    await settle(summaries)
    assert summaries_in(harness) == []  # ended, but its last counts may still come
    clock.now = DUE
    await settle(summaries)
    (post,) = summaries_in(harness)
    assert post.embeds[0]["title"] == "🏁 Season summary: October 2026"
    got = fields(post)
    escaped = literal(HOSTILE)  # no markdown, no mention
    assert "@everyone" not in escaped
    assert got["Top donors"].splitlines() == [
        f"`1.` {escaped} (#2PQ) — 1,200",
        "`2.` Alpha (#2PP) — 900",
    ]
    assert got["Top receivers"] == "`1.` Alpha (#2PP) — 50"
    # Alpha: 1,300 before the end less 1,000 at the start; the row after the end is not
    # the season's. Late was first seen during the season and gained nothing since.
    assert got["Trophy gains"].splitlines() == [
        "`1.` Alpha (#2PP) — 300",
        f"`2.` {escaped} (#2PQ) — 100",
    ]
    assert got["War stars won"].splitlines()[0] == "`1.` Alpha (#2PP) — 12"
    assert got["Capital gold looted"] == "`1.` Alpha (#2PP) — 25,000"
    assert got["Clan games points"] == f"`1.` {escaped} (#2PQ) — 4,000"
    names = [f["name"] for f in post.embeds[0]["fields"]]
    assert "Clan games points (September)" in names
    assert post.allowed_mentions == {"parse": []} and post.raw["mention_everyone"] is False
    for later in (DUE + timedelta(hours=1), DUE + timedelta(days=20)):
        clock.now = later
        await settle(summaries)
    assert len(summaries_in(harness)) == 1


async def test_once_across_a_restart_and_late_after_downtime(db_dsn: str, tmp_path: Path) -> None:
    async with fakes() as (discord, coc):
        discord.add_channel(GUILD_ID, FEED, name="feed")
        async with bot_on(discord, coc, db_dsn, tmp_path) as h:
            await world(h)
            h.bot.clock = Clock(END - timedelta(days=1))
            await settle(poster(h))
            assert summaries_in(h) == []
        # Down over the boundary; back five days later: posted late, once.
        async with bot_on(discord, coc, db_dsn, tmp_path) as h:
            h.bot.clock = Clock(END + timedelta(days=5))
            await settle(poster(h))
            assert len(summaries_in(h)) == 1
        async with bot_on(discord, coc, db_dsn, tmp_path) as h:
            h.bot.clock = Clock(END + timedelta(days=6))
            await settle(poster(h))
            assert len(summaries_in(h)) == 1
            row = await summary_row(h)
            assert row is not None and row["sent_at"] is not None and row["attempts"] == 1


async def test_two_processes_post_once(harness: Harness) -> None:
    await world(harness)
    harness.bot.clock = Clock(DUE)
    await poster(harness).stop()
    others = [SeasonSummaries(harness.bot) for _ in range(3)]
    await asyncio.gather(*(p.run_once() for p in others))
    await asyncio.gather(*(p.run_once() for p in others))
    assert len(summaries_in(harness)) == 1


async def test_a_crash_between_the_post_and_its_record_posts_once(harness: Harness) -> None:
    await world(harness)
    harness.bot.clock = Clock(DUE)
    await poster(harness).stop()

    class Crashing(SeasonSummaries):
        async def post(self, claim: Any, start: datetime) -> None:
            original = season_summaries.sent

            async def die(*_: Any) -> None:
                raise ConnectionResetError("the process died")

            season_summaries.sent = die  # type: ignore[assignment]
            try:
                await super().post(claim, start)
            finally:
                season_summaries.sent = original  # type: ignore[assignment]

    with pytest.raises(ConnectionResetError):
        await Crashing(harness.bot, lease_seconds=0.2).run_once()
    assert len(summaries_in(harness)) == 1
    await asyncio.sleep(0.3)  # the dead process's lease runs out
    await SeasonSummaries(harness.bot).run_once()
    # Posted again with the same nonce: Discord answered with the message already made.
    assert len(summaries_in(harness)) == 1
    row = await summary_row(harness)
    assert row is not None and row["message_id"] == summaries_in(harness)[0].id


async def test_no_summary_without_a_feed_or_players_from_before_the_end(harness: Harness) -> None:
    await world(harness)
    await harness.pool.execute("UPDATE tracked_players SET added_at = $1", END + timedelta(days=1))
    harness.bot.clock = Clock(DUE)
    await settle(poster(harness))
    await harness.pool.execute("UPDATE tracked_players SET added_at = $1", START)
    await harness.pool.execute("UPDATE feeds SET enabled = false")
    await settle(poster(harness))
    assert summaries_in(harness) == []


async def test_a_refused_channel_is_not_retried_forever(harness: Harness) -> None:
    await world(harness)
    harness.discord.fail_channel(FEED, 403)
    harness.bot.clock = Clock(DUE)
    await settle(poster(harness))
    row = await summary_row(harness)
    assert row is not None and row["sent_at"] is None and "refused" in row["skipped"]
    harness.discord.fail_channel(FEED, None)
    await settle(poster(harness))
    assert summaries_in(harness) == []


async def first_try_times_out(harness: Harness, *, lands: bool) -> None:
    """One run of a poster whose post gets no answer: it reached Discord (``lands``) or
    not, and the poster cannot tell which."""
    http = harness.bot.http
    real = http.request

    async def no_answer(route: Any, **kwargs: Any) -> Any:
        if lands:
            await real(route, **kwargs)
        raise TimeoutError("the answer never came")

    http.request = no_answer  # type: ignore[method-assign]
    try:
        await SeasonSummaries(harness.bot).run_once()
    finally:
        http.request = real  # type: ignore[method-assign]


async def test_a_retry_after_a_lost_answer_finds_the_summary_already_posted(
    harness: Harness,
) -> None:
    """The post landed but its answer never came, and the retry comes after Discord has
    forgotten the nonce: the summary is found in the channel, not posted again."""
    await world(harness)
    harness.bot.clock = Clock(DUE)
    await poster(harness).stop()
    # A busy feed channel: 150 messages just before, so the summary is on a second page.
    for n in range(150):
        chatter = harness.discord._new_message({"content": f"chatter {n}"}, [], FEED)
        harness.discord.channel_messages[FEED].append(chatter)
    await first_try_times_out(harness, lands=True)
    assert len(summaries_in(harness)) == 1
    harness.discord._nonces.clear()  # minutes later: Discord no longer knows the nonce
    await harness.pool.execute("UPDATE season_summaries SET leased_until = now()")
    await SeasonSummaries(harness.bot).run_once()
    (post,) = summaries_in(harness)
    row = await summary_row(harness)
    assert row["sent_at"] is not None and row["message_id"] == post.id


async def test_a_retry_follows_the_feed(harness: Harness) -> None:
    await world(harness)
    harness.discord.add_channel(GUILD_ID, FEED + 1, name="new-feed")
    harness.bot.clock = Clock(DUE)
    await poster(harness).stop()
    await first_try_times_out(harness, lands=False)
    assert summaries_in(harness) == []
    await harness.pool.execute("UPDATE feeds SET channel_id = $1", FEED + 1)
    await harness.pool.execute("UPDATE season_summaries SET leased_until = now()")
    await SeasonSummaries(harness.bot).run_once()
    assert len(harness.discord.live_messages(FEED + 1)) == 1


async def test_a_feed_turned_off_before_the_post_gets_none(harness: Harness) -> None:
    await world(harness)
    harness.bot.clock = Clock(DUE)
    await poster(harness).stop()
    await first_try_times_out(harness, lands=False)
    await harness.pool.execute("UPDATE feeds SET enabled = false")
    await harness.pool.execute("UPDATE season_summaries SET leased_until = now()")
    await SeasonSummaries(harness.bot).run_once()
    assert summaries_in(harness) == []
    assert (await summary_row(harness))["sent_at"] is None  # waits for the feed


async def test_no_summary_for_a_feed_set_up_after_the_end_or_a_week_late(
    harness: Harness,
) -> None:
    await world(harness)
    await poster(harness).stop()
    await harness.pool.execute("UPDATE feeds SET enabled_since = $1", END + timedelta(days=1))
    harness.bot.clock = Clock(DUE)
    await SeasonSummaries(harness.bot).run_once()
    await harness.pool.execute("UPDATE feeds SET enabled_since = $1", START)
    harness.bot.clock = Clock(DUE + timedelta(days=8))  # down for more than a week
    await SeasonSummaries(harness.bot).run_once()
    assert summaries_in(harness) == []
    assert await summary_row(harness) is None


async def test_an_unreadable_history_after_a_lost_answer_never_posts_twice(
    harness: Harness,
) -> None:
    """The first try may have landed and the channel's history cannot be read (no Read
    Message History): the retry does not post again, and gives up in the end."""
    await world(harness)
    harness.bot.clock = Clock(DUE)
    await poster(harness).stop()
    await first_try_times_out(harness, lands=True)
    harness.discord._nonces.clear()
    bot_id = str(harness.discord.bot_user_id)
    harness.discord.set_overwrites(
        FEED, [{"id": bot_id, "type": 1, "allow": "0", "deny": str(1 << 16)}]
    )
    for _ in range(12):
        await harness.pool.execute("UPDATE season_summaries SET leased_until = now()")
        await SeasonSummaries(harness.bot).run_once()
    assert len(summaries_in(harness)) == 1
    row = await summary_row(harness)
    assert row["sent_at"] is None and "could not tell" in row["skipped"]
