"""The last guild untracks the clan while a war poll of it is in flight: the poll's write
waits for (or sees) the untrack, and no war is left open with nobody polling its clan.
(Review: the poll reopened the war the untrack had just closed.)"""

from __future__ import annotations

from db import guild_tracking
from tests.bot.wars.conftest import CLAN, GUILD, WarEnv
from tests.bot.wars.review_helpers import OURS, THEIRS, battle_war


async def test_a_poll_racing_the_untrack_does_not_leave_an_open_unpolled_war(wenv: WarEnv) -> None:
    await wenv.track_clan()
    war = battle_war(wenv)
    war.attack(OURS[0], THEIRS[0], 2, 60)
    wenv.api.serve_war(war)
    poller = await wenv.poller()
    await wenv.poll(poller)

    real = poller.clash.get_current_war

    async def racing(clan_tag, **kw):
        body = await real(clan_tag, **kw)
        async with wenv.pool.acquire() as con:  # /track remove clan commits meanwhile
            assert await guild_tracking.untrack_clan(con, GUILD, CLAN)
        return body

    poller.clash.get_current_war = racing  # type: ignore[method-assign]
    await wenv.poll(poller)
    poller.clash.get_current_war = real  # type: ignore[method-assign]
    wenv.clock.advance(days=3)
    await wenv.poll(poller)

    rows = await wenv.fetch("SELECT closed_at, closed_how FROM wars")
    polled = await wenv.value("SELECT count(*) FROM war_polls WHERE clan_tag = $1", CLAN)
    print([dict(r) for r in rows], "war_polls rows:", polled)
    assert not (rows[0]["closed_at"] is None and polled == 0), (
        "war reopened after the untrack, and nobody will ever poll or close it"
    )
