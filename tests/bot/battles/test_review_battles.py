"""Regressions found by a review of the battle capture (each failed before its fix)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.battles.ranked_report import load_ranked
from db import league_weeks
from db.model import LeagueWeek
from tests.bot.battles.conftest import ANN, WEEK_ONE, BattleEnv
from tests.bot.battles.test_battle_poller import _week_posts, started
from tests.fakes.battles import make_week
from tests.fakes.coc_api import RANKED_WEEK


async def test_after_weeks_unseen_the_week_that_just_ended_is_posted(benv: BattleEnv) -> None:
    """The profile jumps from week W to W+3 (the tracker was down): the week that just
    ended is W+2 (the profile's previous week), and what it ended in shows in W+3's tier.
    Posting W with W+3's tier would be weeks late and wrong."""
    tracker, poller = await started(benv, ANN)
    ann = benv.players[ANN]
    await benv.battle_and_read(tracker, poller, ann, 1)
    ann.season = WEEK_ONE + 3 * RANKED_WEEK
    ann.league = "Electro League 30"
    benv.api.set_player(ann.payload())
    benv.api.set_league_history(
        ANN,
        [
            make_week(WEEK_ONE, 105000033, placement=29),
            make_week(WEEK_ONE + RANKED_WEEK, 105000031, placement=5),
            make_week(WEEK_ONE + 2 * RANKED_WEEK, 105000031, placement=7),
        ],
    )
    await benv.read_profiles(tracker)
    await benv.read_logs(poller)
    posts = await _week_posts(benv)
    assert len(posts) == 1
    detail = posts[0]["detail"]
    assert detail["season_id"] == WEEK_ONE + 2 * RANKED_WEEK
    assert (detail["placement"], detail["outcome"]) == (7, "demoted")


async def test_a_ranked_player_who_did_not_battle_costs_no_history_read(
    benv: BattleEnv,
) -> None:
    tracker, poller = await started(benv, ANN)  # ranked, no battle seen while tracked
    ann = benv.players[ANN]
    ann.new_week()
    benv.api.set_player(ann.payload())
    await benv.read_profiles(tracker)
    for _ in range(3):
        await benv.read_logs(poller, due=True)
    assert benv.api.count(f"/v1/players/{ANN}/leaguehistory") == 0
    assert await _week_posts(benv) == []


async def test_a_week_missing_from_the_history_is_given_up_and_never_posted_late(
    benv: BattleEnv,
) -> None:
    tracker, poller = await started(benv, ANN)
    ann = benv.players[ANN]
    await benv.battle_and_read(tracker, poller, ann, 1)
    ann.new_week()
    benv.api.set_player(ann.payload())
    await benv.read_profiles(tracker)
    for _ in range(poller.options.history_tries + 2):
        async with benv.pool.acquire() as con:
            await con.execute(
                "UPDATE battle_logs SET history_due_at = now() WHERE history_due_at IS NOT NULL"
            )
        await benv.read_logs(poller)
    reads = benv.api.count(f"/v1/players/{ANN}/leaguehistory")
    assert reads == poller.options.history_tries
    # The history lists it at last, and the profile is read again: nothing is posted.
    benv.api.set_league_history(ANN, [make_week(WEEK_ONE, 105000033)])
    await benv.read_profiles(tracker)
    await benv.read_logs(poller, due=True)
    assert await _week_posts(benv) == []


async def test_a_gone_players_log_is_not_read_again(benv: BattleEnv) -> None:
    tracker, poller = await started(benv, ANN)
    ann = benv.players[ANN]
    await benv.battle_and_read(tracker, poller, ann, 2)
    benv.api.remove_player(ANN)  # every route of the account answers 404
    async with benv.pool.acquire() as con:
        await con.execute("UPDATE battle_logs SET played_at = now() - interval '3 days'")
        await con.execute("UPDATE battle_logs SET next_poll_at = now() - interval '1 s'")
    await benv.read_logs(poller)
    rows = await benv.fetch("SELECT last_error, next_poll_at FROM battle_logs")
    assert rows[0]["last_error"] is not None and rows[0]["next_poll_at"] is None
    # Marked gone by the tracker: not leased whatever its schedule says.
    async with benv.pool.acquire() as con:
        await con.execute("UPDATE player_polls SET gone_at = now()")
        await con.execute("UPDATE battle_logs SET next_poll_at = now() - interval '1 s'")
    reads = benv.log_reads(ANN)
    await benv.read_logs(poller)
    assert benv.log_reads(ANN) == reads


async def test_ranked_from_stored_weeks_judges_the_newest_by_this_weeks_tier(
    benv: BattleEnv,
) -> None:
    """The league history cannot be read: the stored weeks are shown, the newest one's
    outcome judged by this week's tier (they were newest first, so the check that the
    weeks follow each other looked at the oldest)."""
    await started(benv, ANN)
    ann = benv.players[ANN]
    ann.season = WEEK_ONE + 2 * RANKED_WEEK
    benv.api.set_player(ann.payload())  # Electro League 33 now
    weeks = [
        LeagueWeek(WEEK_ONE, 105000031, 4, 1000, 20, 0, 0, 0, 0, 0, 30),
        LeagueWeek(WEEK_ONE + RANKED_WEEK, 105000032, 4, 1000, 20, 0, 0, 0, 0, 0, 30),
    ]
    async with benv.pool.acquire() as con:
        await league_weeks.save_weeks(con, ANN, weeks)
    benv.api.fail(f"/v1/players/{ANN}/leaguehistory", 429)
    report = await load_ranked(await benv.client(), benv.pool, ANN, games_max=4000)
    assert not report.history_live
    assert [(r.week.season_id, r.outcome) for r in report.weeks] == [
        (WEEK_ONE + RANKED_WEEK, "promoted"),
        (WEEK_ONE, "promoted"),
    ]


# -- a second review ------------------------------------------------------------------------


async def test_an_old_weeks_profile_read_after_the_turn_does_not_shift_the_weeks(
    benv: BattleEnv,
) -> None:
    """A profile answered from the API's cache just after a week's turn still shows the
    week before. Which week an instant belongs to is learnt from readings far from a
    turn, so battles read after the turn are still the new week's."""
    tracker, poller = await started(benv, ANN)
    ann = benv.players[ANN]
    benv.play(ann, 1)
    await benv.read_profiles(tracker)
    await benv.read_logs(poller)  # the baseline
    turn = datetime.fromtimestamp(WEEK_ONE + RANKED_WEEK, UTC)
    benv.clock.now = turn + timedelta(seconds=30)
    await benv.read_profiles(tracker, minutes=0)  # cached: still the old week
    await benv.read_logs(poller, minutes=2, due=True)  # nothing new
    ann.new_week()
    benv.play(ann, 2)
    await benv.read_profiles(tracker, minutes=5)
    await benv.read_logs(poller, due=True)
    weeks = await benv.fetch("SELECT season_id FROM battles WHERE window_start IS NOT NULL")
    assert [w[0] for w in weeks] == [WEEK_ONE + RANKED_WEEK] * 2


async def test_a_failed_first_read_is_read_again(benv: BattleEnv) -> None:
    benv.player(ANN, attack_wins=40)  # played this season: the baseline is due at once
    await benv.track(ANN)
    tracker, poller = await benv.tracker(), await benv.poller()
    await benv.read_profiles(tracker)
    path = f"/v1/players/{ANN}/battlelog"
    benv.api.fail(path, 429)
    await benv.read_logs(poller)
    benv.api.fail(path, None)
    rows = await benv.fetch("SELECT tail, next_poll_at - now() AS wait FROM battle_logs")
    assert rows[0]["tail"] is None and rows[0]["wait"] is not None
    # Under a rate limit the read waits the interval, not the short retry.
    assert rows[0]["wait"].total_seconds() > poller.options.retry_delay + 60
    benv.play(benv.players[ANN], 2)
    await benv.read_logs(poller, due=True)
    assert len(await benv.stored(ANN)) == 2  # the baseline, read at last


async def test_a_member_list_in_a_weeks_first_minutes_is_no_battle(benv: BattleEnv) -> None:
    """A clan's member list may be cached for 10 minutes: in a week's first minutes its
    trophies may be from before the reset, so they say nothing of a battle."""
    from tests.fakes.coc_api import make_clan

    tracker, poller = await started(benv, ANN)
    ann = benv.players[ANN]
    await benv.battle_and_read(tracker, poller, ann, 1)
    await benv.last_battle_days_ago()  # no log is due any more
    async with benv.pool.acquire() as con:
        await con.execute(
            "INSERT INTO clan_polls (clan_tag, next_poll_at)"
            " VALUES ('#2PP', now() + interval '1 day') ON CONFLICT (clan_tag) DO NOTHING"
        )
    turn = datetime.fromtimestamp(WEEK_ONE + RANKED_WEEK, UTC)
    before_the_turn = ann.payload()
    ann.new_week()
    benv.api.set_player(ann.payload())
    benv.clock.now = turn + timedelta(minutes=2)
    async with benv.pool.acquire() as con:
        await con.execute("UPDATE player_polls SET next_poll_at = now() - interval '1 s'")
        await con.execute("UPDATE clan_polls SET next_poll_at = now() + interval '1 day'")
    await tracker.run_once()  # the profile shows the new week, trophies reset
    # The list, cached from before the turn, shows the old trophies.
    benv.api.set_clan(make_clan("#2PP", [before_the_turn]))
    async with benv.pool.acquire() as con:
        await con.execute("UPDATE clan_polls SET next_poll_at = now() - interval '1 s'")
        await con.execute("UPDATE player_polls SET next_poll_at = now() + interval '1 day'")
    benv.clock.now = turn + timedelta(minutes=4)
    await tracker.run_once()
    moved = await benv.fetch("SELECT trophies FROM players WHERE tag = $1", ANN)
    assert moved[0][0] == before_the_turn["trophies"]  # the list was read
    reads = benv.log_reads(ANN)
    await benv.read_logs(poller)
    assert benv.log_reads(ANN) == reads


async def test_an_untracked_players_due_log_is_taken_off_the_schedule(benv: BattleEnv) -> None:
    from db import guild_tracking

    tracker, poller = await started(benv, ANN)
    benv.play(benv.players[ANN], 1)
    await benv.read_profiles(tracker)  # due now
    async with benv.pool.acquire() as con:
        await guild_tracking.untrack_player(con, 5000, ANN)
    await benv.read_logs(poller)
    assert benv.log_reads(ANN) == 0
    rows = await benv.fetch("SELECT next_poll_at, leased_by FROM battle_logs")
    assert (rows[0]["next_poll_at"], rows[0]["leased_by"]) == (None, None)
