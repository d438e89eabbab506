"""Domain errors. Each carries the short message a Discord user sees.

The command tree's error handler turns these into ephemeral replies; anything
that is not a ``UserFacingError`` is a bug and is logged with its traceback.
"""

from __future__ import annotations


class UserFacingError(Exception):
    """An error whose message is safe and useful to show to the invoking user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidTag(UserFacingError):
    def __init__(self, raw: str) -> None:
        # Shown in a code span: control characters and bidi overrides cannot be shown
        # (an RTL mark would reverse the rest of the line) and a backtick ends the span.
        raw = "".join(c for c in raw if c.isprintable() and c != "`")
        shown = raw if len(raw) <= 20 else raw[:20] + "…"
        super().__init__(
            f"`{shown}` is not a valid Clash of Clans tag. Tags look like `#2PP0JCCL`: 3 to 12 "
            "characters from 0289PYLQGRJCUV after the #."
        )


class PlayerNotFound(UserFacingError):
    def __init__(self, tag: str) -> None:
        super().__init__(f"No player with the tag `{tag}` exists in Clash of Clans.")
        self.tag = tag


class ClanNotFound(UserFacingError):
    def __init__(self, tag: str) -> None:
        super().__init__(f"No clan with the tag `{tag}` exists in Clash of Clans.")
        self.tag = tag


class ApiMaintenance(UserFacingError):
    def __init__(self) -> None:
        super().__init__(
            "The Clash of Clans API is in maintenance right now. Try again when it is back."
        )


class ApiRateLimited(UserFacingError):
    def __init__(self) -> None:
        super().__init__("The Clash of Clans API is rate-limiting this bot. Try again in a minute.")


class ApiUnavailable(UserFacingError):
    def __init__(self, detail: str = "", *, answered: bool = False) -> None:
        """``answered``: the API answered, badly (an HTTP error, an unreadable body); False
        when it could not be reached at all (refused, no DNS, no answer in time)."""
        super().__init__("The Clash of Clans API could not be reached. Try again shortly.")
        self.detail = detail
        self.answered = answered


class ApiAccessDenied(UserFacingError):
    def __init__(self, reason: str = "accessDenied") -> None:
        super().__init__(
            "The Clash of Clans API refused this bot's key. The bot's operator needs to "
            "check its API credentials (`python -m bot check`)."
        )
        self.reason = reason


class WarLogPrivate(UserFacingError):
    def __init__(self, tag: str) -> None:
        super().__init__(
            f"This clan's war log is private (`{tag}`): the API shows its wars only when a "
            "leader or co-leader makes the war log public in the clan's settings."
        )
        self.tag = tag


class DatabaseUnavailable(UserFacingError):
    def __init__(self) -> None:
        super().__init__(
            "The bot's database is unavailable right now. Nothing was changed; try again shortly."
        )


class NotAllowed(UserFacingError):
    """The user may not do this (not the owner, missing permission, ...)."""


class LimitReached(UserFacingError):
    """A per-guild or per-user limit was reached."""


class NoData(UserFacingError):
    """There is nothing to show yet (no history, empty leaderboard, ...)."""


class InvalidOption(UserFacingError):
    """An option's value the command cannot read (a date in the wrong form, ...)."""
