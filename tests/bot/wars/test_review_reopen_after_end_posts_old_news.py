"""A war closed 'untracked' reopens only while it runs: tracked again after its end
(/currentwar still serves it warEnded), nothing made while nobody tracked the clan is
posted to the new guild's feed."""

from __future__ import annotations

from db import feeds, guild_tracking
from tests.bot.wars.conftest import CLAN, GUILD, WarEnv
from tests.bot.wars.review_helpers import OURS, THEIRS, battle_war, outbox

LATER_GUILD, LATER_CHANNEL = 7000, 7001


async def test_retracked_after_the_end_posts_nothing_old(wenv: WarEnv) -> None:
    await wenv.track_clan()
    war = battle_war(wenv, hours_left=10)
    war.attack(OURS[0], THEIRS[0], 2, 60)
    wenv.api.serve_war(war)
    poller = await wenv.poller()
    await wenv.poll(poller)
    async with wenv.pool.acquire() as con:
        assert await guild_tracking.untrack_clan(con, GUILD, CLAN)
    war.attack(OURS[1], THEIRS[1], 3, 100)  # while nobody tracks the clan
    war.end()
    wenv.clock.advance(days=1)  # ended 14 h ago; the API still shows it
    async with wenv.pool.acquire() as con:
        await feeds.set_feed(con, LATER_GUILD, LATER_CHANNEL, None, 1)
        await guild_tracking.track_clan(con, LATER_GUILD, CLAN, None, 1)
    await wenv.poll(poller)

    queued = await outbox(wenv, LATER_GUILD)
    how = await wenv.value("SELECT closed_how FROM wars")
    print(queued, how)
    assert queued == [], "a war that ended while untracked is posted to the new guild"
