"""Generated timelines of boards through the real bot, database and fake Discord.

Players' stats change, a board's message is deleted (with the gateway's event, or while
no process heard it), refreshers of two processes run alone or at once, a process
restarts or its gateway session is new (its memory of checked messages gone), a day
passes (the daily check of each message). After every step no board has two live
messages and no edit changed nothing; at a settled moment (a day passed and one
refresh ran) every board has exactly one live message, the one stored, showing what a
render of the database shows now.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any, ClassVar

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import invariant, rule

from bot import leaderboards
from bot.boards.refresher import BoardRefresher
from bot.boards.render import board_payload
from bot.periods import Period
from db import boards
from tests.db.test_history import seed_player
from tests.db_fixtures import PgServer
from tests.fakes.discord_server import Message
from tests.harness import GUILD_ID
from tests.state_machines import BotTimeline, run_machine

CHANNEL = 7500
TAGS = ("#2PP", "#2PQ", "#2PR")
STATS = ("trophies", "war_stars")


class BoardTimeline(BotTimeline):
    env: ClassVar[dict[str, str]] = {"BOARD_REFRESH_SECONDS": "3600"}

    def build(self) -> None:
        self.fake.add_channel(GUILD_ID, CHANNEL, name="boards")

    async def seed(self) -> None:
        cog: Any = self.h.bot.get_cog("BoardCog")
        await cog.refresher.stop()  # the timeline runs the refreshers itself
        # The gateway's delete events reach refresher A's memory, as the cog's would.
        self.refreshers = [BoardRefresher(self.h.bot), BoardRefresher(self.h.bot)]
        cog.refresher = self.refreshers[0]
        for n, tag in enumerate(TAGS):
            await seed_player(self.h.pool, tag, f"P{n}", [])
        async with self.h.pool.acquire() as con:
            for stat in STATS:
                await boards.add(con, GUILD_ID, CHANNEL, stat, "current", 1, 10)
        await self.refreshers[0].run_once()

    # -- what happens

    @rule(tag=st.sampled_from(TAGS), stat=st.sampled_from(STATS), value=st.integers(0, 3))
    def stat_changes(self, tag: str, stat: str, value: int) -> None:
        self.run(self.h.pool.execute(f"UPDATE players SET {stat} = $2 WHERE tag = $1", tag, value))

    @rule(stat=st.sampled_from(STATS), heard=st.booleans())
    def message_deleted(self, stat: str, heard: bool) -> None:
        message = self.live().get(stat)
        if message is None:
            return
        if heard:
            self.fake.delete_message(CHANNEL, message.id)
            self.run(asyncio.sleep(0.05))  # the event reaches the bot
        else:
            message.deleted = True  # while no process was connected

    @rule(which=st.sampled_from(("a", "b", "both")), due=st.booleans())
    def refresh(self, which: str, due: bool) -> None:
        async def go() -> None:
            if due:
                await self.h.pool.execute("UPDATE boards SET next_refresh_at = now()")
            chosen = {"a": self.refreshers[:1], "b": self.refreshers[1:], "both": self.refreshers}
            await asyncio.gather(*(r.run_once() for r in chosen[which]))

        self.run(go())

    @rule(which=st.sampled_from((0, 1)))
    def process_restarts(self, which: int) -> None:
        self.refreshers[which] = BoardRefresher(self.h.bot)
        if which == 0:
            cog: Any = self.h.bot.get_cog("BoardCog")
            cog.refresher = self.refreshers[0]

    @rule()
    def a_day_passes(self) -> None:
        self.run(self.h.pool.execute("UPDATE boards SET checked_at = checked_at - interval '25 h'"))

    @rule()
    def gateway_session_is_new(self) -> None:
        for refresher in self.refreshers:
            refresher.new_session()

    @rule()
    def settle(self) -> None:
        self.a_day_passes()
        self.refresh("a", True)
        self.run(self._check_settled())

    # -- what must hold

    def live(self) -> dict[str, Message]:
        found: dict[str, Message] = {}
        for message in self.fake.live_messages(CHANNEL):
            stat = "trophies" if message.embeds[0]["title"] == "Trophies" else "war_stars"
            assert stat not in found, f"two live messages for the {stat} board"
            found[stat] = message
        return found

    @invariant()
    def no_duplicates_and_no_empty_edits(self) -> None:
        self.live()
        assert self.fake.noop_edits == 0

    async def _check_settled(self) -> None:
        live = self.live()
        async with self.h.pool.acquire() as con:
            rows = {r["stat"]: r for r in await con.fetch("SELECT * FROM boards")}
            for stat in STATS:
                row = rows[stat]
                assert row["disabled_at"] is None
                message = live.get(stat)
                assert message is not None, f"the {stat} board has no message"
                assert row["message_id"] == message.id
                data = await leaderboards.board(
                    con, GUILD_ID, stat, Period.CURRENT, self.h.bot.clock(), 0
                )
                want = board_payload(stat, Period.CURRENT, data)["embeds"]
                assert [{k: v for k, v in e.items() if k != "type"} for e in message.embeds] == [
                    {k: v for k, v in e.items() if k != "type"} for e in want
                ]


def _run(server: PgServer, examples: int, steps: int) -> None:
    run_machine(lambda: BoardTimeline(server), examples, steps)


def test_generated_board_timelines(pg_server: PgServer) -> None:
    _run(pg_server, examples=int(os.environ.get("BOARD_TIMELINE_EXAMPLES", "10")), steps=20)


@pytest.mark.heavy
def test_generated_board_timelines_long(pg_server: PgServer) -> None:
    _run(pg_server, examples=40, steps=40)
