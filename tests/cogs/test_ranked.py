"""/ranked, /battles and the loot in /progress through the fake Discord and the fake API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.battles.poller import BattlePoller
from db import guild_tracking
from tests.bot.tracker.conftest import Clock
from tests.cogs.activity_helpers import poll
from tests.fakes.battles import BattleLog, make_battle, make_week
from tests.fakes.coc_api import RANKED_WEEK, make_player
from tests.harness import GUILD_ID, Harness, opt

ANN = "#8QQ"
WEEK_ONE = 1773032400  # a ranked week's id (its start); weeks are 604,800 s apart


def ranked_clock(harness: Harness) -> int:
    """Time the tracker's readings in the middle of a ranked week (a profile read within
    an hour of a week's turn does not tell which week an instant is in), and return that
    week's id."""
    now = datetime.now(UTC)
    start = WEEK_ONE + int((now.timestamp() - WEEK_ONE) // RANKED_WEEK) * RANKED_WEEK
    if start + RANKED_WEEK // 2 > now.timestamp() - 3600:
        start -= RANKED_WEEK
    clock = Clock()
    clock.now = datetime.fromtimestamp(start + RANKED_WEEK // 2, UTC)
    harness.tracker_clock = clock  # type: ignore[attr-defined]
    return start


def fields(embed: dict) -> dict[str, str]:
    return {f["name"]: f["value"] for f in embed.get("fields", [])}


async def read_logs(harness: Harness) -> int:
    async with harness.pool.acquire() as con:
        await con.execute(
            "UPDATE battle_logs SET next_poll_at = now() - interval '1 s'"
            " WHERE next_poll_at IS NOT NULL"
        )
    poller = BattlePoller(
        settings=harness.settings,
        pool=harness.pool,
        clash=harness.bot.clash,
        clock=harness.tracker_clock,  # type: ignore[attr-defined]
    )
    return await poller.run_once()


class Ann:
    def __init__(self, harness: Harness, **profile: object) -> None:
        self.harness, self.profile = harness, profile
        self.log = BattleLog()
        self.trophies, self.wins = 5000, 10
        harness.coc.serve_battle_log(ANN, self.log)
        self.publish()

    def publish(self) -> None:
        self.harness.coc.set_player(
            make_player(
                ANN,
                name="Ann",
                trophies=self.trophies,
                attack_wins=self.wins,
                **self.profile,  # type: ignore[arg-type]
            )
        )

    def play(self, *battles: dict) -> None:
        self.log.play(*battles)
        self.trophies += 7 * len(battles)
        self.wins += sum(1 for b in battles if b["attack"])
        self.publish()


async def tracked(harness: Harness, **profile: object) -> Ann:
    ann = Ann(harness, **profile)
    async with harness.pool.acquire() as con:
        await guild_tracking.track_player(con, GUILD_ID, ANN, 1)
    await poll(harness)
    return ann


async def test_a_days_battles_and_the_ranked_week(harness: Harness) -> None:
    week = ranked_clock(harness)
    ann = await tracked(harness, league="Electro League 33", league_season=week)
    ann.play(make_battle(1), make_battle(2))  # before the first read: no known day
    await poll(harness)
    await read_logs(harness)
    ann.play(
        make_battle(3, stars=3, destruction=100, gold=1_000_000, elixir=900_000, dark_elixir=9_000),
        make_battle(4, attack=False, stars=1, destruction=45, gold=100_000, elixir=0),
        make_battle(5, battle_type="homeVillage", stars=0, destruction=30, gold=10),
    )
    await poll(harness)
    await read_logs(harness)
    async with harness.pool.acquire() as con:
        day = await con.fetchval("SELECT max(window_end) FROM battles")
    reply = await harness.run("battles", opt("tag", ANN), opt("day", f"{day:%Y-%m-%d}"))
    assert not reply.ephemeral
    embed = reply.embeds[0]
    assert embed["title"] == "Battles: Ann (#8QQ)"
    got = fields(embed)
    head, *lines = embed["description"].splitlines()
    assert head.endswith("(UTC), newest first:")
    assert len(lines) == 3
    assert lines[0].startswith("⚔️ Attack (regular) on #")
    assert "☆☆☆ 30%" in lines[0]
    assert lines[1].startswith("🛡️ Defense (ranked) against #") and "lost 100,000 gold" in lines[1]
    assert "★★★ 100% · looted 1,000,000 gold, 900,000 elixir, 9,000 dark elixir" in lines[2]
    totals = got["The day's totals"]
    assert totals.startswith("**2** attack(s), 3 stars, 1 won; looted 1,000,010 gold")
    assert "**1** defense(s), 1 stars conceded; lost 100,000 gold" in totals
    assert "2 battle(s) of the log's first read" in embed["footer"]["text"]

    # The ranked week: one ranked attack counted, the weeks before from the history.
    harness.coc.set_league_history(
        ANN,
        [
            make_week(week - 2 * RANKED_WEEK, 105000031, placement=40, attack_wins=12),
            make_week(week - RANKED_WEEK, 105000032, placement=5, max_battles=24),
        ],
    )
    reply = await harness.run("ranked", opt("tag", ANN))
    embed = reply.embeds[0]
    got = fields(embed)
    assert embed["title"] == "Ranked: Ann (#8QQ)"
    assert "League: **Electro League 33**" in got["This week"]
    assert "League trophies: **5,035**" in got["This week"]
    assert got["Attacks this week"].startswith("**1** of 24 (last week's maximum) attacks seen")
    weeks = got["Last weeks"].splitlines()
    assert "**Electro League 32**, #5" in weeks[0] and "promoted to Electro League 33" in weeks[0]
    assert "**Electro League 31**, #40" in weeks[1] and "promoted to Electro League 32" in weeks[1]

    # /progress shows the loot of the period and the season.
    reply = await harness.run("progress", opt("tag", ANN))
    loot = fields(reply.embeds[0])["Loot from attacks (battle log)"]
    assert "Last 7 days: 1,000,010 gold, 1,300,000 elixir, 14,000 dark elixir (2 attacks)" in loot


async def test_a_player_who_never_played_ranked(harness: Harness) -> None:
    harness.coc.set_player(make_player(ANN, name="Ann", league=None))
    reply = await harness.run("ranked", opt("tag", ANN))
    assert not reply.ephemeral
    assert reply.embeds[0]["description"] == "This player has not played ranked battles yet."


async def test_an_empty_battle_log(harness: Harness) -> None:
    ann = await tracked(harness, league="Electro League 33")
    ann.play()  # trophies move (a battle the log does not list)
    ann.trophies += 5
    ann.publish()
    await poll(harness)
    assert await read_logs(harness) == 1
    async with harness.pool.acquire() as con:
        read_at = await con.fetchval("SELECT read_at FROM battle_logs WHERE player_tag = $1", ANN)
    reply = await harness.run("battles", opt("tag", ANN), opt("day", f"{read_at:%Y-%m-%d}"))
    assert reply.embeds[0]["description"].endswith("\nNo battle recorded on this day.")
    reply = await harness.run("ranked", opt("tag", ANN))
    assert "counted from the battle logs" in fields(reply.embeds[0])["Attacks this week"]


async def test_battles_of_an_untracked_player_and_bad_days(harness: Harness) -> None:
    reply = await harness.run("battles", opt("tag", ANN))
    assert reply.ephemeral and "players a server tracks" in reply.content
    reply = await harness.run("battles", opt("tag", ANN), opt("day", "yesterday"))
    assert reply.ephemeral and "a date like 2026-11-25" in reply.content
    future = datetime.now(UTC) + timedelta(days=2)
    reply = await harness.run("battles", opt("tag", ANN), opt("day", f"{future:%Y-%m-%d}"))
    assert reply.ephemeral and "has not come yet" in reply.content
    reply = await harness.run("battles", opt("tag", "not a tag"))
    assert reply.ephemeral
    reply = await harness.run("ranked", opt("tag", "#0000000"))
    assert reply.ephemeral


async def test_a_tracked_player_who_has_not_battled(harness: Harness) -> None:
    await tracked(harness)
    reply = await harness.run("battles", opt("tag", ANN))
    assert reply.ephemeral and "once the tracker sees the player battle" in reply.content
    reply = await harness.run("progress", opt("tag", ANN))
    assert fields(reply.embeds[0])["Loot"].startswith("Not counted yet")


async def test_a_busy_day_is_paged_within_discords_limits(harness: Harness) -> None:
    """40 battles and 30 gaps in one day: pages of 15 battles, the gaps named in one
    field; the fake Discord refuses an embed over its limits."""
    day = datetime(2026, 11, 20, tzinfo=UTC)
    async with harness.pool.acquire() as con:
        await con.execute(
            "INSERT INTO battle_logs (player_tag, tail, read_at) VALUES ($1, '{}', $2)", ANN, day
        )
        for n in range(40):
            at = day + timedelta(minutes=20 * n + 20)
            await con.execute(
                "INSERT INTO battles (player_tag, fingerprint, battle_type, attack,"
                " opponent_tag, stars, destruction, gold, elixir, dark_elixir, window_start,"
                " window_end) VALUES ($1, $2, 'ranked', true, '#2PP', 3, 100, 1000000,"
                " 1000000, 10000, $3, $4)",
                ANN,
                f"f{n}",
                at - timedelta(minutes=20),
                at,
            )
        for n in range(30):
            start = day + timedelta(minutes=40 * n)
            await con.execute(
                "INSERT INTO battle_gaps VALUES ($1, $2, $3)",
                ANN,
                start,
                start + timedelta(minutes=20),
            )
    reply = await harness.run("battles", opt("tag", ANN), opt("day", "2026-11-20"))
    embed = reply.embeds[0]
    assert len(embed["description"].splitlines()) == 1 + 15
    assert "Page 1 of 3." in embed["footer"]["text"]
    gaps = fields(embed)["Gaps"]
    assert "and 22 more" in gaps and len(gaps) <= 1024
    assert fields(embed)["The day's totals"].startswith("**40** attack(s), 120 stars, 40 won")
