"""War reminders: ``hours`` before a battle day ends, who still has attacks left.

Each war is reminded once per guild and clan, also across restarts and with
several processes: the post is claimed in the database first (one process
wins), posted with a nonce made from the claim, and marked sent after. A
claim left unsent by a process that died is posted again, with the same
nonce, while the war still runs and the reminder is set (to its channel
then). A lineup too long for one message is posted in parts, each marked
when it is out. A war that ends first, or a reminder set
after its moment, does not post.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import asyncpg
import discord
from discord.http import Route

from bot.cycles import CycleTask
from bot.embeds import literal, timestamp
from bot.timeutil import utcnow
from db import war_reminders

if TYPE_CHECKING:
    from bot.discord_bot import TrackerBot

log = logging.getLogger(__name__)

REMINDER_TASK = "war reminders"
TRANSIENT = (OSError, TimeoutError, discord.DiscordServerError)
MAX_CONTENT = 2000
MAX_MENTIONS = 100  # Discord's limit of users in allowed_mentions


@dataclass(frozen=True, slots=True)
class Part:
    text: str
    users: list[int]  # the Discord users it mentions
    tags: list[str]  # the members it names


def reminder_messages(war: Any, members: Sequence[Any], *, continued: bool = False) -> list[Part]:
    """The post's messages: the members with attacks left, each pinging the Discord users
    linked to the members it names (nobody else; never a role or everyone). A lineup too
    long for one message goes on in more, so that every member is named. ``continued``:
    the first parts are out already (``members`` are those they did not name)."""
    left = [m for m in members if m["left_"] > 0]
    kind = "CWL war" if war["war_tag"] else "war"
    text = (
        "(continued)"
        if continued
        else (
            f"⚔️ The {kind} against **{literal(war['opponent_name'])}** ends "
            f"{timestamp(war['end_time'])}. {sum(m['left_'] for m in left)} attack(s) left:"
        )
    )
    parts: list[Part] = []
    users: list[int] = []
    tags: list[str] = []
    for m in left:
        user = m["user_id"]
        mention = f" <@{user}>" if user is not None else ""
        line = f"• {literal(m['name'])} (TH{m['town_hall']}, {m['left_']} left){mention}"
        if len(text) + 1 + len(line) > MAX_CONTENT or len(users) >= MAX_MENTIONS:
            parts.append(Part(text, users, tags))
            text, users, tags = "(continued)", [], []
        text += "\n" + line
        tags.append(m["tag"])
        if user is not None and user not in users:
            users.append(user)
    if tags or not parts:
        parts.append(Part(text, users, tags))
    return parts


def nonce(post_id: int, part: int) -> str:
    """The part's nonce: a post resumed after a crash is not posted twice (within the
    minutes Discord remembers nonces)."""
    return f"warrem-{post_id}" if part == 0 else f"warrem-{post_id}-{part}"


class WarReminders(CycleTask):
    task_name = REMINDER_TASK

    def __init__(
        self,
        bot: TrackerBot,
        *,
        poll_interval: float = 15.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        super().__init__(bot)
        self.poll_interval = poll_interval
        self.clock = clock

    async def run_once(self) -> float:
        """Claim and post what is due; return seconds until the next look."""
        now = self.clock()
        async with self.pool.acquire() as con:
            due = await war_reminders.due(con, now)
            for r in due:
                # Its hours before the end, or the battle day's start if that is later.
                moment = max(r["end_time"] - timedelta(hours=r["hours"]), r["start_time"])
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
            # A resumed post names only those its parts did not (attacks made since
            # would shift the parts).
            members = [m for m in members if m["tag"] not in set(post["named"])]
            if not any(m["left_"] > 0 for m in members):
                if post["parts_sent"]:
                    await war_reminders.sent(con, post["id"])
                else:
                    await war_reminders.drop(con, post["id"], "no attack left")
                return
            await war_reminders.attempt(con, post["id"])
        first = post["parts_sent"]
        parts = reminder_messages(post, members, continued=first > 0)
        channel_id = post["channel_id"]
        route = Route("POST", "/channels/{channel_id}/messages", channel_id=channel_id)
        for n, part in enumerate(parts, start=first):
            payload = {
                "content": part.text,
                "nonce": nonce(post["id"], n),
                "enforce_nonce": True,
                "allowed_mentions": {"parse": [], "users": [str(u) for u in part.users]},
            }
            try:
                message = await self.bot.http.request(route, json=payload)
            except (discord.Forbidden, discord.NotFound) as exc:
                async with self.pool.acquire() as con:
                    await war_reminders.drop(con, post["id"], f"Discord refused: {exc.status}")
                log.warning(
                    "war reminder for %s not posted in channel %s: %s",
                    post["clan_tag"],
                    channel_id,
                    exc,
                )
                return
            except (discord.HTTPException, *TRANSIENT) as exc:
                log.warning("war reminder %s not posted yet (%r); retrying", post["id"], exc)
                return
            async with self.pool.acquire() as con:
                await war_reminders.part_sent(
                    con, post["id"], n + 1, int(message["id"]), channel_id, part.tags
                )
        async with self.pool.acquire() as con:
            await war_reminders.sent(con, post["id"])
