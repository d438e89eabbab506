"""A war whose battle day is shorter than the reminder's hours: the reminder task sleeps
until the battle day starts, it does not spin."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

from bot.wars.reminders import WarReminders
from db import war_reminders
from tests.bot.wars.conftest import CLAN, GUILD, OPPONENT, WarEnv
from tests.fakes.wars import ScriptedWar, lineup

OURS = ["#8QQ", "#8RR", "#8UU"]
THEIRS = ["#9QQ", "#9RR", "#9UU"]


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
