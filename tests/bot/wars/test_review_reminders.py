"""War reminders, from the reviews: a long lineup in parts that name everyone once, also
when resumed; a battle day shorter than the reminder's hours."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from bot.wars.reminders import WarReminders, reminder_messages
from db import war_reminders
from tests.bot.wars.conftest import CLAN, GUILD, OPPONENT, WarEnv, war_start
from tests.bot.wars.review_helpers import OURS, THEIRS
from tests.fakes.wars import ScriptedWar, lineup

# A reminder for a 50-member war names and pings every linked member with attacks left,
# in as many messages of at most 2000 characters as it takes. (Review: the text was cut
# with "… and N more", and those members were never pinged.)


def test_every_linked_member_with_attacks_left_is_mentioned() -> None:
    war = {
        "war_tag": None,
        "opponent_name": "Altar of Minis",
        "end_time": datetime(2026, 3, 20, tzinfo=UTC),
    }
    members = [
        {
            "left_": 2,
            "user_id": 300000000000000000 + i,
            "name": f"Player_{i:02d}__x",
            "town_hall": 16,
            "tag": f"#P{i:02d}",
        }
        for i in range(50)
    ]
    parts = reminder_messages(war, members)
    assert len(parts) > 1 and all(len(p.text) <= 2000 for p in parts)
    users = [u for p in parts for u in p.users]
    assert sorted(users) == [300000000000000000 + i for i in range(50)]
    assert [t for p in parts for t in p.tags] == [f"#P{i:02d}" for i in range(50)]
    assert parts[0].text.startswith("⚔️") and parts[1].text.startswith("(continued)")


# A reminder in parts resumed after a transient failure names the members its sent parts
# did not, still with attacks left: members who attacked meanwhile do not shift anyone out.
# (Review: the parts were rebuilt and sent from the failed one's number on.)

A = "0289PYLQGRJCUV"
OURS50 = ["#Q" + a + b for a, b in itertools.product(A, A)][:50]
THEIRS50 = ["#V" + a + b for a, b in itertools.product(A, A)][:50]
NAMES = [f"MemberNo{i:02d}Long" for i in range(50)]


class Http:
    def __init__(self) -> None:
        self.fail_next_after = 1  # the 2nd request fails once
        self.posted: list[dict] = []
        self.calls = 0

    async def request(self, route, json):
        self.calls += 1
        if self.calls == self.fail_next_after + 1:
            raise OSError("connection reset")
        self.posted.append(json)
        return {"id": str(1000 + self.calls)}


async def test_resumed_parts_name_every_member_still_with_attacks_left(wenv: WarEnv) -> None:
    await wenv.track_clan()
    war = ScriptedWar(
        CLAN,
        "Our Clan",
        OPPONENT,
        "Their Clan",
        lineup(OURS50, names=NAMES),
        lineup(THEIRS50),
        preparation_start=war_start(wenv.clock, battle_left=timedelta(hours=3)),
    )
    war.begin_battle()
    wenv.api.serve_war(war)
    poller = await wenv.poller()
    await wenv.poll(poller)
    async with wenv.pool.acquire() as con:
        for i, t in enumerate(OURS50):
            await con.execute(
                "INSERT INTO links (tag, user_id) VALUES ($1, $2)", t, 300000000000000000 + i
            )
        await war_reminders.set_reminder(con, GUILD, CLAN, 5001, 5, 1)
        await con.execute("UPDATE war_reminders SET set_at = '2000-01-01'")
    http = Http()
    bot = SimpleNamespace(pool=wenv.pool, http=http)
    rem = WarReminders(bot, clock=wenv.clock)  # type: ignore[arg-type]
    await rem.run_once()
    assert len(http.posted) == 1  # part 0 out, part 1 failed
    for i in range(10):  # the top ten finish their attacks meanwhile
        war.attack(OURS50[i], THEIRS50[i], 3, 100)
        war.attack(OURS50[i], THEIRS50[(i + 1) % 50], 3, 100)
    await wenv.poll(poller)
    await rem.run_once()
    text = "\n".join(p["content"] for p in http.posted)
    never = [NAMES[i] for i in range(10, 50) if NAMES[i] not in text]
    assert never == [], f"never reminded: {never}"


# A war whose battle day is shorter than the reminder's hours: the reminder task sleeps
# until the battle day starts, it does not spin.


async def test_a_short_battle_day_does_not_make_the_reminder_loop_spin(wenv: WarEnv) -> None:
    """A reminder 2 h before the end; a war with 3 h of preparation and a 1 h battle day.
    The next moment is ``greatest(end_time - hours, start_time)``, the battle\'s start."""
    await wenv.track_clan()
    war = ScriptedWar(
        CLAN,
        "Our Clan",
        OPPONENT,
        "Their Clan",
        lineup(OURS),
        lineup(THEIRS),
        preparation_start=wenv.clock.now - timedelta(minutes=30),
        preparation=timedelta(hours=3),
        battle=timedelta(hours=1),
        attacks_per_member=1,
    )
    wenv.api.serve_war(war)
    poller = await wenv.poller()
    await wenv.poll(poller, minutes=0)
    async with wenv.pool.acquire() as con:
        await con.execute(
            "INSERT INTO war_reminders (guild_id, clan_tag, channel_id, hours, set_by, set_at) "
            "VALUES ($1, $2, 1, 2, 1, $3)",
            GUILD,
            CLAN,
            wenv.clock.now - timedelta(days=1),
        )
        assert await war_reminders.due(con, wenv.clock.now) == []
    task = WarReminders(SimpleNamespace(pool=wenv.pool), clock=wenv.clock)  # type: ignore[arg-type]
    wait = await task.run_once()
    assert wait > 1.0, f"run_once asks to be woken again in {wait:.0f} s (the loop uses 0.05 s)"
