"""A board's message: the guild's top players for one stat, as an embed payload.

Nothing in it depends on the moment of the render (no "updated at", no rolling
period start), so an unchanged ranking renders to the same payload and its
hash says the message needs no edit.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

import discord

from bot.embeds import timestamp
from bot.leaderboard_text import PARTIAL, heading, line, signed
from bot.leaderboards import ACTIVITY_BOARDS, Board
from bot.periods import PERIOD_LABELS, Period, rank

TOP = 20  # players shown: a board is one message, not pages
DESCRIPTION_LIMIT = 4096


def every(seconds: float) -> str:
    if seconds >= 120 and seconds % 60 == 0:
        return f"{int(seconds // 60)} minutes"
    return f"{seconds:g} seconds"


def board_embed(stat: str, period: Period, board: Board) -> discord.Embed:
    ranked = rank(board.standings)
    top = ranked[:TOP]
    gains = signed(stat, period)
    lines = [line(entry, gains) for entry in top]
    if stat in ACTIVITY_BOARDS or period in (Period.CURRENT, Period.SEASON):
        # A fixed start (this season, this month, the latest raid weekend) is shown.
        intro = (
            f"Since {timestamp(board.since, 'f')}\n\n" if isinstance(board.since, datetime) else ""
        )
    else:
        intro = f"{PERIOD_LABELS[period]}\n\n"
    body = "\n".join(lines) if lines else "No tracked player has data for this yet."
    description = (intro + body)[:DESCRIPTION_LIMIT]
    footer = [f"Top {len(top)} of {len(ranked)} ranked" if len(ranked) > TOP else
              f"{len(ranked)} players ranked"]  # fmt: skip
    if any(entry.standing.partial for entry in top):
        footer.append(f"{PARTIAL} tracked for less than the period")
    if board.pending:
        footer.append(f"{board.pending} without data yet")
    # Not the refresh interval: processes set up differently would edit it back and forth.
    footer.append("Kept up to date by the bot")
    embed = discord.Embed(
        title=heading(stat, period), description=description, colour=discord.Colour.gold()
    )
    embed.set_footer(text=" · ".join(footer))
    return embed


def board_payload(stat: str, period: Period, board: Board) -> dict[str, Any]:
    """The JSON a post or an edit sends: the embed, and no content or mentions."""
    embed = board_embed(stat, period, board)
    return {"content": "", "embeds": [embed.to_dict()], "allowed_mentions": {"parse": []}}


def content_hash(payload: dict[str, Any]) -> str:
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()
