"""War reminders: ``hours`` before a battle day ends, who still has attacks left.

Each war is reminded once per guild and clan, also across restarts and with
several processes: the post is claimed in the database first (one process
wins), posted with a nonce made from the claim, and marked sent after. A
claim left unsent by a process that died is posted again, with the same
nonce, while the war still runs. A war that ends first, or a reminder set
after its moment, does not post.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import asyncpg
import discord
from discord.http import Route

from bot.embeds import literal, timestamp
from bot.timeutil import utcnow
from db import war_reminders

if TYPE_CHECKING:
    from bot.discord_bot import TrackerBot

log = logging.getLogger(__name__)

REMINDER_TASK = "war reminders"
DB_TROUBLE = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)
TRANSIENT = (OSError, TimeoutError, discord.DiscordServerError)
MAX_CONTENT = 2000
MAX_MENTIONS = 100  # Discord's limit of users in allowed_mentions


def reminder_message(war: Any, members: Sequence[Any]) -> tuple[str, list[int]]:
    """The post's text and the Discord users it mentions: those linked to the members with
    attacks left that the text names (nobody else; never a role or everyone)."""
    left = [m for m in members if m["left_"] > 0]
    kind = "CWL war" if war["war_tag"] else "war"
    text = (
        f"⚔️ The {kind} against **{literal(war['opponent_name'])}** ends "
        f"{timestamp(war['end_time'])}. {sum(m['left_'] for m in left)} attack(s) left:"
    )
    users: list[int] = []
    for i, m in enumerate(left):
        user = m["user_id"]
        mention = f" <@{user}>" if user is not None else ""
        line = f"• {literal(m['name'])} (TH{m['town_hall']}, {m['left_']} left){mention}"
        # Room kept for the closing line.
        if len(text) + 1 + len(line) + 24 > MAX_CONTENT:
            text += f"\n… and {len(left) - i} more"
            break
        text += "\n" + line
        if user is not None and user not in users and len(users) < MAX_MENTIONS:
            users.append(user)
    return text, users


class WarReminders:
    def __init__(
        self,
        bot: TrackerBot,
        *,
        poll_interval: float = 15.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.bot = bot
        self.pool: asyncpg.Pool = bot.pool
        self.poll_interval = poll_interval
        self.clock = clock
        self._wake = asyncio.Event()
        self._stopping = False
        # Set at the end of each cycle, then replaced (callers wait for a whole cycle).
        self.cycle_done = asyncio.Event()

    def start(self) -> None:
        self._stopping = False
        self.bot.supervisor.start(REMINDER_TASK, self.run)

    async def stop(self, grace: float = 5.0) -> None:
        self._stopping = True
        self._wake.set()
        await self.bot.supervisor.stop(REMINDER_TASK, timeout=grace)

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        delay = 1.0
        while not self._stopping:
            self._wake.clear()
            try:
                wait = await self.run_once()
                delay = 1.0
            except DB_TROUBLE as exc:
                log.warning("war reminders lost the database (%s)", type(exc).__name__)
                wait, delay = delay, min(delay * 2, 60.0)
            done, self.cycle_done = self.cycle_done, asyncio.Event()
            done.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(wait, 0.05))

    async def run_once(self) -> float:
        """Claim and post what is due; return seconds until the next look."""
        now = self.clock()
        async with self.pool.acquire() as con:
            due = await war_reminders.due(con, now)
            for r in due:
                moment = r["end_time"] - timedelta(hours=r["hours"])
                skipped = "set after its moment" if r["set_at"] > moment else None
                await war_reminders.claim(
                    con, r["guild_id"], r["clan_tag"], r["war_id"], r["channel_id"], skipped
                )
            pending = await war_reminders.unsent(con, now)
            following = await war_reminders.next_moment(con, now)
        for post in pending:
            await self._post(post)
        wait = self.poll_interval
        if following is not None:
            wait = min(wait, (following - self.clock()).total_seconds())
        return wait

    async def _post(self, post: asyncpg.Record) -> None:
        async with self.pool.acquire() as con:
            members = await war_reminders.attacks_left(
                con, post["war_id"], post["attacks_per_member"]
            )
            if not any(m["left_"] > 0 for m in members):
                await war_reminders.drop(con, post["id"], "no attack left")
                return
            await war_reminders.attempt(con, post["id"])
        text, users = reminder_message(post, members)
        payload = {
            "content": text,
            "nonce": f"warrem-{post['id']}",
            "enforce_nonce": True,
            "allowed_mentions": {"parse": [], "users": [str(u) for u in users]},
        }
        route = Route("POST", "/channels/{channel_id}/messages", channel_id=post["channel_id"])
        try:
            message = await self.bot.http.request(route, json=payload)
        except (discord.Forbidden, discord.NotFound) as exc:
            async with self.pool.acquire() as con:
                await war_reminders.drop(con, post["id"], f"Discord refused: {exc.status}")
            log.warning(
                "war reminder for %s not posted in channel %s: %s",
                post["clan_tag"],
                post["channel_id"],
                exc,
            )
            return
        except (discord.HTTPException, *TRANSIENT) as exc:
            log.warning("war reminder %s not posted yet (%r); retrying", post["id"], exc)
            return
        async with self.pool.acquire() as con:
            await war_reminders.sent(con, post["id"], int(message["id"]))
