"""A board's message on Discord: fetched, edited, posted, deleted.

Through the bot's own HTTP client (it keeps to the rate limits) and raw routes (no
channel cache needed: the board may be in a guild of another shard).
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
import discord
from discord.http import HTTPClient, Route

log = logging.getLogger(__name__)

UNKNOWN_CHANNEL = 10003
UNKNOWN_MESSAGE = 10008


def _message_route(method: str, channel_id: int, message_id: int) -> Route:
    return Route(
        method,
        "/channels/{channel_id}/messages/{message_id}",
        channel_id=channel_id,
        message_id=message_id,
    )


async def exists(http: HTTPClient, channel_id: int, message_id: int) -> bool:
    """Whether the message is still there. Reading it needs Read Message History: without
    it (a 403) nothing can be told, and the message is taken to be there (an edit still
    finds out it is gone)."""
    try:
        await http.request(_message_route("GET", channel_id, message_id))
    except discord.NotFound as exc:
        if exc.code == UNKNOWN_MESSAGE:
            return False
        if exc.code == UNKNOWN_CHANNEL:
            raise
        # Any other 404 (a proxy without the route, say) tells nothing about the message.
        log.info("cannot check message %s in channel %s: %s", message_id, channel_id, exc)
    except discord.Forbidden:
        log.info("cannot read message %s in channel %s to check it", message_id, channel_id)
    return True


async def edit(http: HTTPClient, channel_id: int, message_id: int, payload: dict[str, Any]) -> bool:
    """Edit the message; False if it was deleted."""
    try:
        await http.request(_message_route("PATCH", channel_id, message_id), json=payload)
    except discord.NotFound as exc:
        if exc.code == UNKNOWN_MESSAGE:
            return False
        raise
    return True


async def post(http: HTTPClient, channel_id: int, payload: dict[str, Any], nonce: str) -> int:
    """Post the message with ``nonce`` (Discord answers a repeat with the first message)."""
    route = Route("POST", "/channels/{channel_id}/messages", channel_id=channel_id)
    message = await http.request(route, json={**payload, "nonce": nonce, "enforce_nonce": True})
    return int(message["id"])


async def delete(http: HTTPClient, channel_id: int, message_id: int) -> bool:
    """Delete the message if it can be; whether it is gone."""
    try:
        await http.request(_message_route("DELETE", channel_id, message_id))
    except discord.NotFound:
        return True
    except (discord.HTTPException, aiohttp.ClientError, OSError) as exc:
        log.warning("could not delete message %s in channel %s: %r", message_id, channel_id, exc)
        return False
    return True


def refusal(exc: discord.HTTPException, channel_id: int) -> str:
    """Why Discord refused a board's channel, for /board list."""
    if isinstance(exc, discord.NotFound):
        return f"Its channel <#{channel_id}> was deleted (Discord: {exc.text or 'not found'})."
    return (
        f"Discord refused me in <#{channel_id}> ({exc.text or 'missing access'}): "
        "I can no longer see it or post there."
    )
