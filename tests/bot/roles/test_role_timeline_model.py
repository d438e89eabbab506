"""Generated timelines through the real bot, role sync loop, database and fake Discord.

Members link and unlink accounts (verified or not, taking an account over when
verified), accounts change Town Hall, clan and rank (as the tracker writes them),
members leave and join (with roles given by hand), an admin drags a mapped role above
the bot's and back, and the sync loop restarts. At a settled moment (a full pass run to
the end, as every ROLE_SYNC_INTERVAL_SECONDS makes one), every member in the guild
holds exactly the mapped roles their accounts give, by an oracle written apart from
bot.roles.rules: the Town Hall role of their highest Town Hall only, every clan, the
elder role of a clan they are elder in, the verified role; except a role above the
bot's, which nobody gives or takes. No role outside the mapped ones is ever changed.
"""

from __future__ import annotations

import asyncio
import os
from typing import ClassVar

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import rule

from db import guild_tracking, roles
from db.links import delete_link, save_link
from tests.db_fixtures import PgServer
from tests.harness import GUILD_ID
from tests.state_machines import BotTimeline, run_machine

MANAGE_ROLES = 1 << 28
BOT_ROLE, TH16, TH17, CLAN_A, CLAN_B, ELDER_A, VERIFIED, UNMANAGED = range(9000, 9008)
POSITION = {TH16: 1, TH17: 2, CLAN_A: 3, CLAN_B: 4, ELDER_A: 5, VERIFIED: 6, UNMANAGED: 7}
MAPPED = (TH16, TH17, CLAN_A, CLAN_B, ELDER_A, VERIFIED)
USERS = (201, 202)
TAGS = ("#8QA", "#8QB", "#8QC")
CLANS = {"#2CA": CLAN_A, "#2CB": CLAN_B}
MAPPINGS = (
    ("town_hall", "16", TH16),
    ("town_hall", "17", TH17),
    ("clan", "#2CA", CLAN_A),
    ("clan", "#2CB", CLAN_B),
    ("clan_elder", "#2CA", ELDER_A),
    ("verified", "", VERIFIED),
)


class RoleTimeline(BotTimeline):
    env: ClassVar[dict[str, str]] = {"ROLE_SYNC_INTERVAL_SECONDS": "3600"}

    def __init__(self, server: PgServer) -> None:
        self.links: dict[str, tuple[int, bool]] = {}
        self.accounts = {t: (16, None, "member") for t in TAGS}  # th, clan, rank
        self.present = set(USERS)
        self.above: set[int] = set()
        super().__init__(server)

    def build(self) -> None:
        self.fake.add_role(GUILD_ID, BOT_ROLE, "Tracker", position=10, permissions=MANAGE_ROLES)
        for role, position in POSITION.items():
            self.fake.add_role(GUILD_ID, role, f"R{role}", position=position)
        self.fake.set_bot_roles(GUILD_ID, [BOT_ROLE])
        for user in USERS:
            self.fake.add_member(GUILD_ID, user, roles=[UNMANAGED])

    async def seed(self) -> None:
        async with self.h.pool.acquire() as con:
            await con.executemany(
                """INSERT INTO players (tag, name, town_hall, exp_level, trophies, best_trophies,
                       war_stars, attack_wins, defense_wins, donations, donations_received,
                       builder_trophies, best_builder_trophies, builder_hall,
                       capital_contributions, fetched_at, changed_at)
                   VALUES ($1, $1, 16, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, now(), now())""",
                [(t,) for t in TAGS],
            )
            for clan in CLANS:
                await guild_tracking.track_clan(con, GUILD_ID, clan, clan, 1)
            for kind, value, role in MAPPINGS:
                await roles.map_role(con, GUILD_ID, kind, value, role)

    # -- what happens

    @rule(tag=st.sampled_from(TAGS), user=st.sampled_from(USERS), verified=st.booleans())
    def link(self, tag: str, user: int, verified: bool) -> None:
        owner = self.links.get(tag)
        if owner is None or owner[0] == user or verified:
            self.links[tag] = (user, verified)

        async def go() -> None:
            async with self.h.pool.acquire() as con:
                await save_link(con, tag, user, verified)

        self.run(go())

    @rule(tag=st.sampled_from(TAGS))
    def unlink(self, tag: str) -> None:
        owner = self.links.pop(tag, None)
        if owner is None:
            return

        async def go() -> None:
            async with self.h.pool.acquire() as con:
                assert await delete_link(con, tag, owner[0])

        self.run(go())

    @rule(
        tag=st.sampled_from(TAGS),
        th=st.sampled_from([15, 16, 17]),
        clan=st.sampled_from([None, "#2CA", "#2CB"]),
        rank=st.sampled_from(["member", "admin", "leader"]),
    )
    def account_changes(self, tag: str, th: int, clan: str | None, rank: str) -> None:
        self.accounts[tag] = (th, clan, rank if clan else None)

        async def go() -> None:
            async with self.h.pool.acquire() as con:
                await con.execute(
                    "UPDATE players SET town_hall = $2, clan_tag = $3, role = $4 WHERE tag = $1",
                    tag, th, clan, rank if clan else None,
                )  # fmt: skip

        self.run(go())

    @rule(
        user=st.sampled_from(USERS),
        rejoin=st.booleans(),
        given=st.sets(st.sampled_from(MAPPED), max_size=3),
    )
    def leave(self, user: int, rejoin: bool, given: set[int]) -> None:
        """The member leaves (if present), and may join again holding roles given by hand."""
        if user in self.present:
            self.fake.remove_member(GUILD_ID, user)
            self.present.discard(user)
        if rejoin:
            self.fake.add_member(GUILD_ID, user, roles=[UNMANAGED, *(given - self.above)])
            self.present.add(user)
        self.run(asyncio.sleep(0))

    @rule(role=st.sampled_from(MAPPED))
    def drag_above_the_bot(self, role: int) -> None:
        self.fake.move_role(GUILD_ID, role, 20)
        self.above.add(role)
        self.run(asyncio.sleep(0))

    @rule(role=st.sampled_from(MAPPED))
    def drag_back_below(self, role: int) -> None:
        self.fake.move_role(GUILD_ID, role, POSITION[role])
        self.above.discard(role)
        self.run(asyncio.sleep(0))

    @rule()
    def restart_the_sync_loop(self) -> None:
        async def go() -> None:
            service = self.h.bot.role_sync
            assert service is not None
            await service.stop()
            service.start()

        self.run(go())

    @rule()
    def time_passes(self) -> None:
        """A moment of the loop's own pace: queued syncs go on in the background."""
        self.run(asyncio.sleep(0.05))

    @rule()
    def settle(self) -> None:
        self.run(self._settle())
        for user in self.present:
            held = self.fake.member_roles(GUILD_ID, user)
            touchable = set(MAPPED) - self.above
            assert held & touchable == self.expected(user) & touchable, user
            assert UNMANAGED in held
        assert all(c.role_id in MAPPED for c in self.fake.member_changes if c.role_id)

    # -- the oracle

    def expected(self, user: int) -> set[int]:
        mine = [t for t, (owner, _) in self.links.items() if owner == user]
        if not mine:
            return set()
        found: set[int] = set()
        top = max(self.accounts[t][0] for t in mine)
        found |= {16: {TH16}, 17: {TH17}}.get(top, set())
        for tag in mine:
            _, clan, rank = self.accounts[tag]
            if clan:
                found.add(CLANS[clan])
                if clan == "#2CA" and rank == "admin":
                    found.add(ELDER_A)
        if any(self.links[t][1] for t in mine):
            found.add(VERIFIED)
        return found

    async def _settle(self) -> None:
        """Once discord.py's cache shows what the fake holds, a full pass to its end."""
        guild = self.h.bot.get_guild(GUILD_ID)
        assert guild is not None

        def cache_follows() -> bool:
            cached = {m.id: {r.id for r in m.roles if not r.is_default()} for m in guild.members}
            cached.pop(self.fake.bot_user_id, None)
            if cached != {u: self.fake.member_roles(GUILD_ID, u) for u in self.present}:
                return False
            return all(guild.get_role(r).position == (20 if r in self.above else p)  # type: ignore[union-attr]
                       for r, p in POSITION.items() if r in MAPPED)  # fmt: skip

        await self.fake.wait_for(cache_follows, 10, "discord.py's cache to follow")
        service = self.h.bot.role_sync
        assert service is not None
        await service.queue_pass(guild)
        for _ in range(100):
            await service.wait_cycle()
            async with self.h.pool.acquire() as con:
                if not await con.fetchval("SELECT count(*) FROM role_sync_queue"):
                    break
        else:
            raise AssertionError("the pass did not end")


def _run(server: PgServer, examples: int, steps: int) -> None:
    run_machine(lambda: RoleTimeline(server), examples, steps)


def test_generated_role_timelines(pg_server: PgServer) -> None:
    _run(pg_server, examples=int(os.environ.get("ROLE_TIMELINE_EXAMPLES", "12")), steps=20)


@pytest.mark.heavy
def test_generated_role_timelines_long(pg_server: PgServer) -> None:
    _run(pg_server, examples=40, steps=40)
