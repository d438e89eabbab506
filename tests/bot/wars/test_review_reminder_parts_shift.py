"""A reminder in parts resumed after a transient failure names the members its sent parts
did not, still with attacks left: members who attacked meanwhile do not shift anyone out.
(Review: the parts were rebuilt and sent from the failed one's number on.)"""

from __future__ import annotations

import itertools
from datetime import timedelta
from types import SimpleNamespace

from bot.wars.reminders import WarReminders
from db import war_reminders
from tests.bot.wars.conftest import CLAN, GUILD, OPPONENT, WarEnv, war_start
from tests.fakes.wars import ScriptedWar, lineup

A = "0289PYLQGRJCUV"
OURS = ["#Q" + a + b for a, b in itertools.product(A, A)][:50]
THEIRS = ["#V" + a + b for a, b in itertools.product(A, A)][:50]
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
        lineup(OURS, names=NAMES),
        lineup(THEIRS),
        preparation_start=war_start(wenv.clock, battle_left=timedelta(hours=3)),
    )
    war.begin_battle()
    wenv.api.serve_war(war)
    poller = await wenv.poller()
    await wenv.poll(poller)
    async with wenv.pool.acquire() as con:
        for i, t in enumerate(OURS):
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
    first = http.posted[0]["content"]
    for i in range(10):  # the top ten finish their attacks meanwhile
        war.attack(OURS[i], THEIRS[i], 3, 100)
        war.attack(OURS[i], THEIRS[(i + 1) % 50], 3, 100)
    await wenv.poll(poller)
    await rem.run_once()
    text = "\n".join(p["content"] for p in http.posted)
    never = [NAMES[i] for i in range(10, 50) if NAMES[i] not in text]
    print("part0 names", sum(n in first for n in NAMES), "posts", len(http.posted))
    assert never == [], f"never reminded: {never}"
