"""A tracked clan: one clan request updates members; joins and leaves are followed."""

from __future__ import annotations

from tests.bot.tracker.conftest import GUILD, Env
from tests.fakes.coc_api import make_clan, make_player

CLAN = "#2Q9VRJ0"
A, B, C, D = "#2PP0JCCL", "#8YUCG2L", "#9P9PRYQ0", "#LQ2V9UC"


def member(tag: str, **kw: object) -> dict:
    return make_player(tag, clan=(CLAN, "Clan"), **kw)  # type: ignore[arg-type]


async def tracked(env: Env) -> set[str]:
    async with env.pool.acquire() as con:
        rows = await con.fetch("SELECT tag FROM tracked_players WHERE guild_id = $1", GUILD)
    return {r["tag"] for r in rows}


async def test_clan_members_are_followed_through_the_clan_request(env: Env) -> None:
    tracker = await env.new_tracker()
    players = {t: member(t, donations=10, trophies=3000) for t in (A, B, C)}
    for p in players.values():
        env.api.set_player(p)
    env.api.set_clan(make_clan(CLAN, list(players.values()), name="Clan"))
    await env.track_clan(CLAN)

    await env.poll(tracker)  # clan baseline; members get tracked and polled in full
    assert await tracked(env) == {A, B, C}
    assert env.api.count(A) >= 1
    assert [r[0] for r in await env.history(A, "donations")] == [10]

    # Donations rise; the clan request alone sees it (no full profile due yet).
    players[A] = member(A, donations=25, trophies=3000)
    env.api.set_clan(make_clan(CLAN, list(players.values()), name="Clan"))
    env.api.reset_counts()
    env.clock.advance(minutes=5)
    async with env.pool.acquire() as con:
        await con.execute("UPDATE clan_polls SET next_poll_at = now() - interval '1 s'")
    await tracker.run_once()
    assert env.api.count(A) == 0 and env.api.count(CLAN) == 1  # one request, for the clan
    assert await env.history(A, "donations", "donations_total") == [(10, 10), (25, 25)]

    # B leaves, D joins.
    del players[B]
    players[D] = member(D, donations=3)
    env.api.set_player(players[D])
    env.api.set_player(make_player(B, clan=None))
    env.api.set_clan(make_clan(CLAN, list(players.values()), name="Clan"))
    await env.poll(tracker)
    assert await tracked(env) == {A, C, D}
    events = await env.events()
    assert (B, "clan_leave", CLAN, None, None) in events
    assert (D, "clan_join", None, CLAN, None) in events
    # B is no longer polled at all (nobody tracks it); D has its baseline.
    assert await env.value("SELECT count(*) FROM player_polls WHERE tag = $1", B) == 0
    assert len(await env.history(D)) == 1
    # Nothing doubled: A's join was the baseline, never an event.
    assert not [e for e in events if e[0] == A and e[1] == "clan_join"]


async def test_a_directly_tracked_member_stays_tracked_after_leaving(env: Env) -> None:
    tracker = await env.new_tracker()
    env.api.set_player(member(A))
    env.api.set_clan(make_clan(CLAN, [member(A)]))
    await env.track(A)
    await env.track_clan(CLAN)
    await env.poll(tracker)
    env.api.set_player(make_player(A, clan=None))
    env.api.set_clan(make_clan(CLAN, []))
    await env.poll(tracker)
    assert await tracked(env) == {A}
    assert await env.value("SELECT via_clan FROM tracked_players WHERE tag = $1", A) is None
    kinds = [e[1] for e in await env.events(A)]
    assert kinds.count("clan_leave") == 1


async def test_a_move_between_two_tracked_clans_never_untracks_the_player(env: Env) -> None:
    """The new clan's list is read before the old one's: it takes the player over, and the
    old clan's list, no longer showing them, lets go of nothing."""
    other = "#8QU8J9LP"
    tracker = await env.new_tracker()
    env.api.set_player(member(A))
    env.api.set_clan(make_clan(CLAN, [member(A)]))
    env.api.set_clan(make_clan(other, []))
    await env.track_clan(CLAN)
    await env.track_clan(other)
    await env.poll(tracker)
    assert await tracked(env) == {A}

    moved = make_player(A, clan=(other, "Other"))
    env.api.set_player(moved)
    env.api.set_clan(make_clan(other, [moved]))
    env.api.set_clan(make_clan(CLAN, []))
    for clan in (other, CLAN):  # the new clan's list first
        env.clock.advance(minutes=1)
        async with env.pool.acquire() as con:
            await con.execute(
                "UPDATE clan_polls SET next_poll_at = now() - interval '1 s' WHERE clan_tag = $1",
                clan,
            )
        await tracker.run_once()
    assert await tracked(env) == {A}
    assert await env.value("SELECT via_clan FROM tracked_players WHERE tag = $1", A) == other
    assert await env.value("SELECT untracked_at FROM player_counters WHERE tag = $1", A) is None
    assert await env.value("SELECT count(*) FROM player_polls WHERE tag = $1", A) == 1
