"""Battle logs through the tracker and the battle poller, the fake API and a real database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bot.battles.parse import parse_battle_log
from bot.battles.poller import ANSWER_AGE
from bot.battles.report import load_day
from bot.battles.store import write_log
from db import guild_tracking
from tests.bot.battles.conftest import ANN, GUILD, WEEK_ONE, BattleEnv
from tests.fakes.battles import make_battle, make_week
from tests.fakes.coc_api import RANKED_WEEK

BOB = "#8RR"


async def started(benv: BattleEnv, *tags: str):  # type: ignore[no-untyped-def]
    for tag in tags:
        benv.player(tag)
    await benv.track(*tags)
    tracker = await benv.tracker()
    await benv.read_profiles(tracker)  # the baseline profiles
    return tracker, await benv.poller()


async def test_an_idle_player_costs_no_battle_log_request(benv: BattleEnv) -> None:
    tracker, poller = await started(benv, ANN)
    for _ in range(5):
        await benv.read_profiles(tracker, minutes=30)
        await benv.read_logs(poller, minutes=30, due=True)
    assert benv.log_reads(ANN) == 0
    assert await benv.stored(ANN) == []


async def test_battles_are_stored_once_each_in_the_window_they_appeared_in(
    benv: BattleEnv,
) -> None:
    tracker, poller = await started(benv, ANN)
    ann = benv.players[ANN]
    benv.play(ann, 3)
    await benv.read_profiles(tracker)
    await benv.read_logs(poller)  # the first read: a baseline of unknown time
    first_read = benv.clock.now
    assert benv.log_reads(ANN) == 1
    baseline = await benv.fetch(
        "SELECT count(*) FROM battles WHERE player_tag = $1 AND window_start IS NULL", ANN
    )
    assert baseline[0][0] == 3

    await benv.battle_and_read(tracker, poller, ann, 4)
    second_read = benv.clock.now
    rows = await benv.fetch(
        "SELECT window_start, window_end FROM battles WHERE player_tag = $1"
        " AND window_start IS NOT NULL ORDER BY id",
        ANN,
    )
    # The window starts the API's cache age before the last read: its answer may have
    # been that old.
    assert [(r[0], r[1]) for r in rows] == [(first_read - ANSWER_AGE, second_read)] * 4
    # Reading again (the interval passed, nothing played) adds nothing.
    await benv.read_logs(poller, due=True)
    await benv.read_logs(poller, due=True)
    assert len(await benv.stored(ANN)) == 7
    assert len(set(await benv.stored(ANN))) == 7


async def test_a_restart_an_api_fault_and_a_second_process_neither_double_nor_drop(
    benv: BattleEnv,
) -> None:
    tracker, poller = await started(benv, ANN)
    ann = benv.players[ANN]
    benv.play(ann, 2)
    await benv.read_profiles(tracker)
    await benv.read_logs(poller)  # baseline: 2

    # An API fault on the log: nothing stored, retried later with what happened since.
    benv.play(ann, 3)
    await benv.read_profiles(tracker)
    benv.api.fail(f"/v1/players/{ANN}/battlelog", 429)  # coc.py retries a 5xx itself
    await benv.read_logs(poller)
    benv.api.fail(f"/v1/players/{ANN}/battlelog", None)
    assert len(await benv.stored(ANN)) == 2
    error = await benv.fetch("SELECT last_error FROM battle_logs WHERE player_tag = $1", ANN)
    assert error[0][0] is not None
    benv.play(ann, 1)

    # A restart: a new tracker and poller carry on from the stored read.
    tracker, poller = await benv.tracker(), await benv.poller()
    await benv.read_profiles(tracker)
    await benv.read_logs(poller, due=True)
    assert len(await benv.stored(ANN)) == 6

    # Two processes read the same log at the same moment: one stores, the other aligns
    # against it and adds nothing.
    benv.play(ann, 2)
    log = parse_battle_log({"items": ann.log.items()})
    benv.clock.advance(minutes=1)
    at = benv.clock.now
    async with benv.pool.acquire() as one, benv.pool.acquire() as two:
        results = await asyncio.gather(write_log(one, ANN, log, at), write_log(two, ANN, log, at))
    assert sorted(r.new for r in results) == [0, 2]
    # A second poller process running beside the first: leases keep them apart.
    benv.play(ann, 3)
    await benv.read_profiles(tracker)
    other = await benv.poller()
    await asyncio.gather(poller.run_once(), other.run_once())
    stored = await benv.stored(ANN)
    assert len(stored) == len(set(stored)) == 11
    assert stored == [b["opponentPlayerTag"] for b in ann.log.battles]


async def test_more_battles_than_the_log_holds_is_a_gap_never_a_guess(benv: BattleEnv) -> None:
    tracker, poller = await started(benv, ANN)
    ann = benv.players[ANN]
    await benv.battle_and_read(tracker, poller, ann, 5)
    before = benv.clock.now
    benv.play(ann, 60)  # 60 battles between two reads: 10 of them are never seen
    await benv.read_profiles(tracker)
    await benv.read_logs(poller)
    gaps = await benv.fetch("SELECT window_start, window_end FROM battle_gaps")
    assert [(g[0], g[1]) for g in gaps] == [(before - ANSWER_AGE, benv.clock.now)]
    stored = await benv.stored(ANN)
    assert len(stored) == 5 + 50
    assert stored[5:] == [b["opponentPlayerTag"] for b in ann.log.battles[-50:]]
    # 49 more between reads: no gap.
    await benv.battle_and_read(tracker, poller, ann, 49)
    assert len(await benv.fetch("SELECT 1 FROM battle_gaps")) == 1
    assert len(await benv.stored(ANN)) == 5 + 50 + 49


async def test_a_clan_list_showing_trophies_move_makes_the_log_due(benv: BattleEnv) -> None:
    from tests.fakes.coc_api import make_clan

    tracker, poller = await started(benv, ANN)
    ann = benv.players[ANN]
    await benv.battle_and_read(tracker, poller, ann, 1)
    benv.play(ann, 2)
    clan = make_clan("#2PP", [ann.payload()])
    benv.api.set_clan(clan)
    async with benv.pool.acquire() as con:
        await con.execute(
            "INSERT INTO clan_polls (clan_tag, next_poll_at) VALUES ('#2PP', now())"
            " ON CONFLICT (clan_tag) DO UPDATE SET next_poll_at = now()"
        )
        await con.execute("UPDATE player_polls SET next_poll_at = now() + interval '1 day'")
    benv.clock.advance(minutes=5)
    await tracker.run_once()  # only the clan's list is read
    await benv.read_logs(poller)
    assert benv.log_reads(ANN) == 2
    assert len(await benv.stored(ANN)) == 3


async def test_a_week_end_posts_its_result_once_across_restarts(benv: BattleEnv) -> None:
    tracker, poller = await started(benv, ANN)
    ann = benv.players[ANN]
    await benv.battle_and_read(tracker, poller, ann, 4, battle_type="ranked")
    await benv.battle_and_read(tracker, poller, ann, 3, battle_type="ranked")

    # The week ends; the profile shows the next one (promoted to 34, Legend League).
    ann.season = WEEK_ONE + RANKED_WEEK
    ann.league = "Legend League"
    benv.api.set_player(ann.payload())
    await benv.read_profiles(tracker)
    # The history does not list the week yet: asked again later, nothing posted.
    await benv.read_logs(poller)
    assert await _week_posts(benv) == []
    benv.api.set_league_history(ANN, [make_week(WEEK_ONE, 105000033, placement=3)])
    async with benv.pool.acquire() as con:
        await con.execute("UPDATE battle_logs SET history_due_at = now()")
    poller = await benv.poller()  # a restart in between
    await benv.read_logs(poller)
    posts = await _week_posts(benv)
    assert len(posts) == 1
    detail = posts[0]["detail"]
    assert detail["outcome"] == "promoted" and detail["placement"] == 3
    assert posts[0]["old_value"] == "Electro League 33"
    # Later reads, a restart and a second process: posted once.
    async with benv.pool.acquire() as con:
        await con.execute("UPDATE battle_logs SET history_due_at = now()")
    await asyncio.gather((await benv.poller()).run_once(), poller.run_once())
    await benv.read_profiles(await benv.tracker())
    assert len(await _week_posts(benv)) == 1
    weeks = await benv.fetch("SELECT season_id, placement FROM league_weeks")
    assert [tuple(w) for w in weeks] == [(WEEK_ONE, 3)]


async def test_an_unranked_players_week_end_reads_no_history(benv: BattleEnv) -> None:
    benv.player(ANN, league=None)  # type: ignore[arg-type]
    await benv.track(ANN)
    tracker, poller = await benv.tracker(), await benv.poller()
    await benv.read_profiles(tracker)
    ann = benv.players[ANN]
    ann.season = WEEK_ONE + RANKED_WEEK
    benv.api.set_player(ann.payload())
    await benv.read_profiles(tracker)
    await benv.read_logs(poller)
    assert benv.api.count(f"/v1/players/{ANN}/leaguehistory") == 0


async def _week_posts(benv: BattleEnv) -> list:  # type: ignore[type-arg]
    return await benv.fetch(
        "SELECT e.old_value, e.new_value, e.detail FROM feed_outbox o"
        " JOIN player_events e ON e.id = o.event_id WHERE e.kind = 'ranked_week'"
    )


async def test_two_players_one_plays(benv: BattleEnv) -> None:
    tracker, poller = await started(benv, ANN, BOB)
    benv.play(benv.players[BOB], 2, attack=False)
    await benv.read_profiles(tracker)
    await benv.read_logs(poller)
    assert benv.log_reads(ANN) == 0 and benv.log_reads(BOB) == 1
    # Within the day after playing, the log is read every interval, even without play.
    await benv.read_logs(poller, due=True)
    assert benv.log_reads(BOB) == 2
    async with benv.pool.acquire() as con:
        await con.execute("UPDATE battle_logs SET played_at = now() - interval '25 hours'")
    await benv.read_logs(poller, due=True)
    await benv.read_logs(poller, due=True)
    assert benv.log_reads(BOB) == 3  # then not any more


async def test_limit_a_window_spanning_midnight_is_shown_on_the_day_it_ended(
    benv: BattleEnv,
) -> None:
    """The API gives no time: a battle read in a window from 23:55 to 00:10 may have been
    played on either day; it is dated by the read (the window's end)."""
    tracker, poller = await started(benv, ANN)
    ann = benv.players[ANN]
    benv.play(ann, 1)
    benv.clock.now = datetime(2026, 3, 10, 23, 45, tzinfo=UTC)
    await benv.read_profiles(tracker)
    await benv.read_logs(poller)  # 23:56: the baseline read
    benv.play(ann, 1)
    await benv.read_profiles(tracker)  # 00:06
    await benv.read_logs(poller)  # 00:07
    rows = await benv.fetch(
        "SELECT window_start, window_end FROM battles WHERE window_start IS NOT NULL"
    )
    assert rows[0]["window_start"].day == 10 and rows[0]["window_end"].day == 11
    async with benv.pool.acquire() as con:
        day = await load_day(con, ANN, "Ann", datetime(2026, 3, 11, tzinfo=UTC))
        before = await load_day(con, ANN, "Ann", datetime(2026, 3, 10, tzinfo=UTC))
    assert len(day.battles) == 1 and before.battles == []


async def test_limit_a_window_over_a_weeks_end_counts_in_no_week(benv: BattleEnv) -> None:
    """Weeks change at the ids' instants (season_id + k * 604800): a battle read in a
    window inside one week is that week's; one read in a window over a week's end may
    be either week's and counts in neither (the ended week's own totals come from the
    league history). The rollover itself (trophies and wins start again) is no battle."""
    ann = benv.player(ANN)
    boundary = datetime.fromtimestamp(WEEK_ONE + RANKED_WEEK, UTC)
    await benv.track(ANN)
    tracker, poller = await benv.tracker(), await benv.poller()
    await benv.read_profiles(tracker)  # days before the turn: which week is which is learnt
    benv.clock.now = boundary - timedelta(minutes=45)
    benv.play(ann, 1)
    await benv.read_profiles(tracker)
    await benv.read_logs(poller)  # the baseline
    benv.play(ann, 2)
    await benv.read_profiles(tracker)
    await benv.read_logs(poller)  # 13 minutes before the end: week one
    benv.play(ann, 1)
    benv.clock.now = boundary + timedelta(minutes=5)
    ann.new_week()
    benv.api.set_player(ann.payload())
    await benv.read_profiles(tracker, minutes=0)
    await benv.read_logs(poller, due=True)  # a window over the week's end
    benv.play(ann, 2)
    await benv.read_profiles(tracker)
    await benv.read_logs(poller)  # the new week
    weeks = await benv.fetch(
        "SELECT season_id FROM battles WHERE window_start IS NOT NULL ORDER BY id"
    )
    assert [w[0] for w in weeks] == [WEEK_ONE] * 2 + [None] + [WEEK_ONE + RANKED_WEEK] * 2


async def test_a_weeks_rollover_is_no_battle(benv: BattleEnv) -> None:
    tracker, poller = await started(benv, ANN)
    ann = benv.players[ANN]
    await benv.battle_and_read(tracker, poller, ann, 1)
    await benv.last_battle_days_ago()  # no log is due any more
    reads = benv.log_reads(ANN)
    ann.new_week()  # trophies and wins reset, no battle
    benv.api.set_player(ann.payload())
    await benv.read_profiles(tracker)
    await benv.read_logs(poller)
    assert benv.log_reads(ANN) == reads


async def test_a_battle_that_moves_nothing_is_read_with_the_next(benv: BattleEnv) -> None:
    """No trophies and no wins moved: nothing says the player battled. Within a day of
    their last battle the log is read every interval anyway; after that, the battle is
    read with the next one that shows (never lost while the log holds it)."""
    tracker, poller = await started(benv, ANN)
    ann = benv.players[ANN]
    await benv.battle_and_read(tracker, poller, ann, 1)
    await benv.last_battle_days_ago()  # no log is due any more

    ann.log.play(make_battle(9_000, attack=False, stars=0, destruction=0, gold=0))
    await benv.read_profiles(tracker)
    await benv.read_logs(poller, due=True)
    assert benv.log_reads(ANN) == 1  # not read: nothing showed it
    await benv.battle_and_read(tracker, poller, ann, 1)
    assert len(await benv.stored(ANN)) == 3


async def test_tracked_again_after_a_gap_the_next_read_is_a_baseline(benv: BattleEnv) -> None:
    """Battles made while nobody tracked the player have no known window: those the first
    read after the gap adds are stored undated, not in a window spanning the gap."""
    tracker, poller = await started(benv, ANN)
    ann = benv.players[ANN]
    await benv.battle_and_read(tracker, poller, ann, 2)
    async with benv.pool.acquire() as con:
        await guild_tracking.untrack_player(con, GUILD, ANN)
        await con.execute("UPDATE player_counters SET untracked_at = now() - interval '2 hours'")
    benv.play(ann, 5)
    await benv.track(ANN)
    await benv.read_profiles(tracker)
    await benv.read_logs(poller)
    rows = await benv.fetch("SELECT window_start IS NULL AS undated FROM battles ORDER BY id")
    assert [r["undated"] for r in rows] == [True] * 7
    assert await benv.stored(ANN) == [b["opponentPlayerTag"] for b in ann.log.battles]
    # Then dated again.
    await benv.battle_and_read(tracker, poller, ann, 1)
    last = await benv.fetch("SELECT window_start FROM battles ORDER BY id DESC LIMIT 1")
    assert last[0]["window_start"] is not None


async def test_a_player_who_played_this_season_is_read_once_when_tracking_begins(
    benv: BattleEnv,
) -> None:
    """Attack wins this season: the player plays. The log's first read (its battles have
    no known time) is made when tracking begins, so the battles after it are dated; then
    nothing more while they do not play."""
    benv.player(ANN, attack_wins=40)
    benv.play(benv.players[ANN], 3)  # before tracking
    await benv.track(ANN)
    tracker, poller = await benv.tracker(), await benv.poller()
    await benv.read_profiles(tracker)
    await benv.read_logs(poller)
    assert benv.log_reads(ANN) == 1
    for _ in range(3):
        await benv.read_profiles(tracker)
        await benv.read_logs(poller, due=True)
    assert benv.log_reads(ANN) == 1
    benv.play(benv.players[ANN], 2)
    await benv.read_profiles(tracker)
    await benv.read_logs(poller)
    rows = await benv.fetch("SELECT window_start IS NULL AS undated FROM battles ORDER BY id")
    assert [r["undated"] for r in rows] == [True] * 3 + [False] * 2
