"""/export through the fake Discord: each kind's CSV attachment read back with csv.DictReader,
the leaderboard's numbers against /leaderboard's, refusals, and the upload size limit."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

from bot import leaderboards
from bot.exports.csv_file import neutralise
from bot.exports.kinds import LEADERBOARD_COLUMNS
from bot.periods import Period
from bot.tracker.seasons import season_start
from db.model import STATS
from tests.cogs import activity_helpers as activity
from tests.cogs.test_leaderboard import rows as leaderboard_rows
from tests.cogs.test_raids import poll_raids
from tests.cogs.war_helpers import CLAN, OPPONENT, OURS, THEIRS, poll_wars, track_clan
from tests.db.test_history import DAY, HOUR, INSERT_TRACKED, seed_player, seed_season
from tests.fakes.discord_server import Interaction, Message
from tests.fakes.raids import RaidWeekend
from tests.fakes.wars import ScriptedWar, lineup
from tests.harness import GUILD_ID, Harness, opt

HOSTILE = '=HYPERLINK("http://evil.example","click"), "quoted"\nline two'
MINUS = "-2"
CLAN_HOSTILE = "@Clan+1"


def table(message: Message) -> list[dict[str, str]]:
    """The reply's one CSV attachment, as a script would read it."""
    assert len(message.files) == 1, message.files
    _, _, data = message.files[0]
    assert data.count(b"\r\n") >= 1 and not data.startswith(b"\xef\xbb\xbf")  # CRLF, no BOM
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


def files_of(it: Interaction) -> list[tuple[str, str, bytes]]:
    found = []
    for message in (it.original, it.response, *it.followups):
        if message is not None:
            found += message.files
    return found


# -- history ----------------------------------------------------------------------------


async def test_history_of_a_tracked_player(harness: Harness) -> None:
    now = datetime.now(UTC)
    await seed_player(
        harness.pool,
        "#2PP",
        HOSTILE,
        [
            (now - 400 * DAY, {"trophies": 4000}),
            (now - 20 * DAY, {"trophies": 4031, "war_stars": 7}),
            (now - 2 * HOUR, {"trophies": 4000, "donations": 12, "donations_total": 12}),
        ],
    )
    reply = await harness.run("export", opt("kind", "history"), opt("tag", "2pp"))
    assert not reply.ephemeral
    assert reply.content.startswith("History of ")
    assert "3 rows" in reply.content and "everything stored" in reply.content
    assert "@everyone" not in reply.content and '\\"' not in reply.content
    name, _, _ = reply.files[0]
    assert name.startswith("history-2PP-") and name.endswith(".csv")
    got = table(reply)
    assert list(got[0]) == ["observed_at", *STATS, "donations_total", "received_total"]
    assert [int(r["trophies"]) for r in got] == [4000, 4031, 4000]
    assert [int(r["war_stars"]) for r in got] == [0, 7, 7]
    assert got[2]["donations"] == "12" and got[2]["donations_total"] == "12"
    assert got[2]["observed_at"] == (now - 2 * HOUR).strftime("%Y-%m-%dT%H:%M:%SZ")

    recent = await harness.run(
        "export", opt("kind", "history"), opt("tag", "#2PP"), opt("days", 30, 4)
    )
    assert "the last 30 day(s)" in recent.content
    assert [int(r["trophies"]) for r in table(recent)] == [4031, 4000]


async def test_history_refusals(harness: Harness) -> None:
    now = datetime.now(UTC)
    await seed_player(harness.pool, "#2PP", "Old", [(now - 100 * DAY, {"trophies": 1})])
    await seed_player(harness.pool, "#2PQ", "Elsewhere", [(now, {})], guild_id=None)

    bad = await harness.run("export", opt("kind", "history"), opt("tag", "hello world!"))
    assert bad.ephemeral and "is not a valid Clash of Clans tag" in bad.content
    missing = await harness.run("export", opt("kind", "history"))
    assert missing.ephemeral and "give their `tag`" in missing.content
    untracked = await harness.run("export", opt("kind", "history"), opt("tag", "#2PQ"))
    assert untracked.ephemeral and "`#2PQ` is not tracked in this server" in untracked.content
    quiet = await harness.run(
        "export", opt("kind", "history"), opt("tag", "#2PP"), opt("days", 7, 4)
    )
    assert quiet.ephemeral
    assert quiet.content.startswith("No history of Old (#2PP) is stored in the last 7 day(s)")
    assert quiet.files == []
    for days in (0, 3651):
        out = await harness.run(
            "export", opt("kind", "history"), opt("tag", "#2PP"), opt("days", days, 4)
        )
        assert out.ephemeral and "from 1 to 3650" in out.content
    dm = await harness.run("export", opt("kind", "wars"), guild_id=None)
    assert dm.ephemeral and "only works in a server" in dm.content


# -- leaderboard ------------------------------------------------------------------------


async def seed_leaderboard(harness: Harness) -> datetime:
    now = datetime.now(UTC)
    season = season_start(now)
    await seed_player(
        harness.pool,
        "#2PP",
        HOSTILE,
        [
            (now - 40 * DAY, {"trophies": 5000, "donations_total": 100, "war_stars": 3}),
            (now - 10 * DAY, {"trophies": 5100, "war_stars": 10}),
            (now - HOUR, {"trophies": 5069, "donations": 40, "donations_total": 140}),
        ],
    )
    await seed_season(harness.pool, "#2PP", season, 40, 0)
    # Tracked for five days: its gain is "since tracking began", and negative.
    await seed_player(
        harness.pool,
        "#2PQ",
        MINUS,
        [(now - 5 * DAY, {"trophies": 3000}), (now - HOUR, {"trophies": 2969})],
    )
    # Read once, no history row: current values, no gain.
    await seed_player(harness.pool, "#2PR", "Plain ☃", [])
    # Tracked, never read: not on any leaderboard.
    await harness.pool.execute(INSERT_TRACKED, GUILD_ID, "#2PU")
    return now


async def test_leaderboard_matches_leaderboard(harness: Harness) -> None:
    now = await seed_leaderboard(harness)
    reply = await harness.run("export", opt("kind", "leaderboard"))
    assert "3 players" in reply.content
    got = {r["tag"]: r for r in table(reply)}
    assert list(got) == ["#2PQ", "#2PP", "#2PR"]  # by name: "-2", "=HYP...", "Plain ☃"
    assert got["#2PP"]["name"] == neutralise(HOSTILE) == "'" + HOSTILE
    assert got["#2PQ"]["name"] == "'-2"
    # The numbers a spreadsheet sums stay numbers, negative ones too.
    assert got["#2PP"]["trophies_gain_30d"] == "69"
    assert got["#2PQ"]["trophies_gain_30d"] == "-31"
    assert got["#2PQ"]["gain_partial"] == "1" and got["#2PP"]["gain_partial"] == "0"
    assert got["#2PR"]["trophies_gain_30d"] == "" and got["#2PR"]["gain_since"] == ""
    assert got["#2PP"]["donations"] == "40"  # this season's total, as /leaderboard shows
    assert got["#2PP"]["donations_gain_30d"] == "40"  # running totals, across resets

    async with harness.pool.acquire() as con:
        for stat in STATS:
            current = await leaderboards.board(con, GUILD_ID, stat, Period.CURRENT, now, 0)
            gains = await leaderboards.board(con, GUILD_ID, stat, Period.MONTH, now, 0)
            assert {s.tag: str(s.value) for s in current.standings} == {
                tag: r[stat] for tag, r in got.items()
            }, stat
            assert {s.tag: (str(s.value), s.partial) for s in gains.standings} == {
                tag: (r[f"{stat}_gain_30d"], r["gain_partial"] == "1")
                for tag, r in got.items()
                if r["gain_since"]
            }, stat

    # And as /leaderboard shows them (a name with a line break spans two lines there).
    shown = await harness.run("leaderboard", opt("stat", "trophies"), opt("period", "30d"))
    assert leaderboard_rows(shown) == [(2, "\\-2", "#2PQ", "-31")]
    assert "(#2PP) — +69" in shown.embeds[0]["description"]


async def test_leaderboard_refusals_and_an_empty_server(harness: Harness) -> None:
    empty = await harness.run("export", opt("kind", "leaderboard"))
    assert empty.ephemeral and "This server tracks no players yet" in empty.content
    await harness.pool.execute(INSERT_TRACKED, GUILD_ID, "#2PU")
    unread = await harness.run("export", opt("kind", "leaderboard"))
    assert unread.ephemeral and "None of the 1 tracked players has been read yet" in unread.content
    tag = await harness.run("export", opt("kind", "leaderboard"), opt("tag", "#2PU"))
    assert tag.ephemeral and "covers every tracked player" in tag.content
    days = await harness.run("export", opt("kind", "leaderboard"), opt("days", 7, 4))
    assert days.ephemeral and "leave `days` out" in days.content


async def test_a_file_over_the_upload_limit_is_refused(harness: Harness) -> None:
    await seed_leaderboard(harness)
    # Room for the header and the first player's row (about 150 bytes), not the second's.
    header = len((",".join(LEADERBOARD_COLUMNS) + "\r\n").encode())
    harness.discord.attachment_size_limit = limit = header + 200
    it = await harness.send("export", opt("kind", "leaderboard"))
    reply = await it.wait_response()
    assert reply.ephemeral
    assert reply.content.startswith(
        f"This export is larger than the {limit} bytes Discord accepts from the bot here "
        "(it passed that after 1 row(s)), so nothing was sent."
    )
    assert files_of(it) == []
    assert it.original is not None and it.original.deleted  # the public "thinking" is gone

    harness.discord.attachment_size_limit = 10 * 1024 * 1024
    assert len(table(await harness.run("export", opt("kind", "leaderboard")))) == 3


# -- wars, raids, clan games ------------------------------------------------------------


async def test_wars(harness: Harness) -> None:
    nothing = await harness.run("export", opt("kind", "wars"))
    assert nothing.ephemeral and "tracks no clan yet" in nothing.content
    await track_clan(harness)
    none_yet = await harness.run("export", opt("kind", "wars"), opt("days", 30, 4))
    assert none_yet.ephemeral
    assert "No war attack is recorded for this server's tracked clans in the last 30" in (
        none_yet.content
    )
    now = datetime.now(UTC)
    war = ScriptedWar(
        CLAN,
        CLAN_HOSTILE,
        OPPONENT,
        "Their Clan",
        lineup(OURS, names=[HOSTILE, MINUS, "Cid"], town_hall=[15, 14, 13]),
        lineup(THEIRS, names=["Xi", "Yu", "Zo"], town_hall=[16, 14, 12]),
        preparation_start=now - timedelta(hours=27),
    )
    war.begin_battle()
    war.attack(OURS[0], THEIRS[0], 2, 80)
    war.attack(THEIRS[1], OURS[1], 3, 100)
    war.attack(OURS[0], THEIRS[1], 3, 100)
    harness.coc.serve_war(war)
    await poll_wars(harness)

    reply = await harness.run("export", opt("kind", "wars"), opt("days", 1, 4))
    assert "3 rows" in reply.content
    got = table(reply)
    assert [r["attack_order"] for r in got] == ["1", "2", "3"]
    first = got[0]
    assert first["clan_name"] == "'" + CLAN_HOSTILE and first["opponent_name"] == "Their Clan"
    assert first["attacker_name"] == "'" + HOSTILE and first["defender_name"] == "Xi"
    assert (first["attacker_side"], first["war_type"], first["result"]) == ("clan", "regular", "")
    assert (first["stars"], float(first["destruction"]), first["attacker_th"]) == ("2", 80.0, "15")
    assert got[1]["attacker_side"] == "opponent" and got[1]["defender_name"] == "'-2"
    assert first["war_end"] == war.end_time.strftime("%Y-%m-%dT%H:%M:%SZ")

    mine = await harness.run("export", opt("kind", "wars"), opt("tag", OURS[0]))
    assert f"player {OURS[0]} only" in mine.content
    assert [r["defender_tag"] for r in table(mine)] == [THEIRS[0], THEIRS[1]]


async def test_raids(harness: Harness) -> None:
    ann, bob = "#8QQ", "#8RR"
    await activity.track_clan(harness)
    activity.publish(harness, [activity.member(ann, HOSTILE), activity.member(bob, MINUS)])
    await activity.poll(harness)
    now = datetime.now(UTC)
    older = RaidWeekend(now - timedelta(days=40), state="ended")
    older.attack(bob, MINUS, 2_000, attacks=2)
    current = RaidWeekend(now - timedelta(hours=20))
    current.attack(ann, HOSTILE, 21_000, attacks=6, bonus=True)
    current.attack(bob, MINUS, 4_000, attacks=2)
    harness.coc.serve_raids(activity.CLAN, [older, current])
    await poll_raids(harness)

    got = table(await harness.run("export", opt("kind", "raids")))
    assert [(r["tag"], r["capital_gold_looted"]) for r in got] == [
        (bob, "2000"),
        (ann, "21000"),
        (bob, "4000"),
    ]
    assert got[1]["name"] == "'" + HOSTILE and got[2]["name"] == "'-2"
    assert (got[1]["attacks"], got[1]["attack_limit"], got[1]["bonus_attack_limit"]) == (
        "6",
        "6",
        "1",
    )
    assert got[1]["state"] == "ongoing" and got[0]["state"] == "ended"
    assert got[1]["clan_name"] == activity.CLAN_NAME
    recent = table(await harness.run("export", opt("kind", "raids"), opt("days", 30, 4)))
    assert [r["tag"] for r in recent] == [ann, bob]
    bobs = table(await harness.run("export", opt("kind", "raids"), opt("tag", bob)))
    assert [r["capital_gold_looted"] for r in bobs] == ["2000", "4000"]


async def test_clan_games(harness: Harness) -> None:
    ann, bob, cid = "#8QQ", "#8RR", "#8UU"
    await activity.track_clan(harness)
    members = [("Ann", 10_000, 14_500), (HOSTILE, 300, 1_050), ("Cid", 0, 0)]
    tags = [ann, bob, cid]
    activity.publish(
        harness,
        [activity.member(t, n, games=g) for t, (n, g, _) in zip(tags, members, strict=True)],
    )
    await activity.poll(harness)
    none_yet = await harness.run("export", opt("kind", "clangames"))
    assert none_yet.ephemeral and "No clan games points are recorded" in none_yet.content
    activity.publish(
        harness,
        [activity.member(t, n, games=g) for t, (n, _, g) in zip(tags, members, strict=True)],
    )
    await activity.poll(harness)

    reply = await harness.run("export", opt("kind", "clangames"), opt("days", 1, 4))
    got = table(reply)
    month = datetime.now(UTC).strftime("%Y-%m")
    assert [(r["month"], r["tag"], r["points"]) for r in got] == [
        (month, ann, "4000"),
        (month, bob, "750"),
    ]
    assert got[0]["maxed_at"].endswith("Z") and got[1]["maxed_at"] == ""
    assert got[1]["name"] == "'" + HOSTILE and got[0]["clan_name"] == activity.CLAN_NAME
    only = table(await harness.run("export", opt("kind", "clangames"), opt("tag", bob)))
    assert [r["points"] for r in only] == ["750"]


async def both_clans_at_war(harness: Harness) -> None:
    """Both clans of a war tracked and polled: two attacks, one by each side."""
    await track_clan(harness)
    await track_clan(harness, OPPONENT, "Their Clan")
    war = ScriptedWar(
        CLAN,
        "Our Clan",
        OPPONENT,
        "Their Clan",
        lineup(OURS, names=["Ann", "Bo", "Cid"]),
        lineup(THEIRS, names=["Xi", "Yu", "Zo"]),
        preparation_start=datetime.now(UTC) - timedelta(hours=27),
    )
    war.begin_battle()
    war.attack(OURS[0], THEIRS[0], 2, 80)
    war.attack(THEIRS[1], OURS[1], 3, 100)
    harness.coc.serve_war(war)
    await poll_wars(harness)


async def test_a_war_between_two_tracked_clans_lists_each_attack_once(harness: Harness) -> None:
    """Both clans' wars are stored, each with every attack: the export takes one copy."""
    await both_clans_at_war(harness)
    async with harness.pool.acquire() as con:
        assert await con.fetchval("SELECT count(*) FROM wars") == 2  # one per side
    got = table(await harness.run("export", opt("kind", "wars")))
    assert [(r["attack_order"], r["attacker_tag"]) for r in got] == [
        ("1", OURS[0]),
        ("2", THEIRS[1]),
    ]
    first_clan = min(CLAN, OPPONENT)
    assert {r["clan_tag"] for r in got} == {first_clan}
    theirs = table(await harness.run("export", opt("kind", "wars"), opt("tag", THEIRS[1])))
    assert [r["defender_tag"] for r in theirs] == [OURS[1]]


async def test_discord_refusing_the_upload_is_said_plainly(harness: Harness) -> None:
    """Discord's own size check can refuse a file the bot measured as fitting (its limit
    fell since the command began): the reply says so, nothing is attached."""
    now = datetime.now(UTC)
    await seed_player(harness.pool, "#2PP", "Ann", [(now - DAY, {"trophies": 4000})])
    original = harness.discord._followup

    async def limit_fell(q: Any) -> Any:
        harness.discord.attachment_size_limit = 10
        for it in harness.discord.interactions.values():
            it.raw["attachment_size_limit"] = 10
        return await original(q)

    harness.discord._followup = limit_fell  # type: ignore[method-assign]
    for i, route in enumerate(harness.discord._routes):
        if route[3] == original:
            harness.discord._routes[i] = (*route[:3], limit_fell)
    reply = await harness.run("export", opt("kind", "leaderboard"))
    assert reply.ephemeral and "refused the" in reply.content and "too large" in reply.content
    assert not reply.files


async def test_one_export_at_a_time_per_server(harness: Harness) -> None:
    now = datetime.now(UTC)
    await seed_player(harness.pool, "#2PP", "Ann", [(now - DAY, {"trophies": 4000})])
    async with harness.pool.acquire() as con, con.transaction():
        # The first export waits on this lock while it streams; the second is refused.
        await con.execute("LOCK TABLE tracked_players IN ACCESS EXCLUSIVE MODE")
        first = await harness.send("export", opt("kind", "leaderboard"))
        await harness.discord.wait_for(lambda: first.deferred, 10)
        second = await harness.run("export", opt("kind", "leaderboard"), user_id=77)
        assert second.ephemeral and "being made right now" in second.content
    assert len(table(await first.wait_response())) == 1


async def test_an_attack_only_the_other_copy_saw_is_kept(harness: Harness) -> None:
    """Two tracked clans' copies of one war differ (one was last read before the end):
    the export keeps every attack either copy holds, once."""
    await both_clans_at_war(harness)
    first_clan = min(CLAN, OPPONENT)
    async with harness.pool.acquire() as con:
        await con.execute(
            "DELETE FROM war_attacks WHERE attack_order = 2 AND war_id = "
            "(SELECT id FROM wars WHERE clan_tag = $1)",
            first_clan,
        )
    got = table(await harness.run("export", opt("kind", "wars")))
    assert [(r["attack_order"], r["attacker_tag"]) for r in got] == [
        ("1", OURS[0]),
        ("2", THEIRS[1]),
    ]
