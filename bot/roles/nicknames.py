"""Nicknames from a format such as ``{name} | TH{th}``: parsed, checked and filled.

Discord allows 1 to 32 characters. A nickname that would be longer is shortened at
the name first, then the clan, then the Town Hall, each cut value ending in an
ellipsis: a value is never cut without one. A format whose fixed text cannot fit
even so is refused when it is set.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.errors import InvalidOption
from db.model import LinkedAccount

MAX_NICKNAME = 32
ELLIPSIS = "…"
PLACEHOLDERS = ("name", "th", "clan")
# The order values are given up in when a nickname is too long.
SHORTEN_ORDER = ("name", "clan", "th")
_TOKEN = re.compile(r"\{(name|th|clan)\}")
# The shortest a cut value can be: one character and the ellipsis.
_MIN_CUT = 2


@dataclass(frozen=True, slots=True)
class NicknameFormat:
    text: str
    # The format split into literal text and placeholder names, alternately.
    parts: tuple[str, ...]

    @property
    def fixed_length(self) -> int:
        return sum(len(p) for i, p in enumerate(self.parts) if i % 2 == 0)

    def uses(self) -> dict[str, int]:
        found = {key: 0 for key in PLACEHOLDERS}
        for i, part in enumerate(self.parts):
            if i % 2:
                found[part] += 1
        return found


def parse_format(text: str) -> NicknameFormat:
    """A format's parts; ``InvalidOption`` with the reason if Discord could never take it."""
    text = text.strip()
    if not text:
        raise InvalidOption("A nickname format cannot be empty.")
    if not text.isprintable():
        raise InvalidOption("A nickname format cannot hold control characters or line breaks.")
    parts = tuple(_TOKEN.split(text))
    literal = "".join(p for i, p in enumerate(parts) if i % 2 == 0)
    if "{" in literal or "}" in literal:
        raise InvalidOption(
            "A nickname format can use only `{name}`, `{th}` and `{clan}` between braces."
        )
    fmt = NicknameFormat(text, parts)
    least = fmt.fixed_length + sum(n * _MIN_CUT for n in fmt.uses().values())
    if least > MAX_NICKNAME:
        raise InvalidOption(
            f"That format cannot fit in Discord's {MAX_NICKNAME} characters even with every "
            "value cut short: shorten its fixed text."
        )
    return fmt


def main_account(accounts: Sequence[LinkedAccount]) -> LinkedAccount | None:
    """The first verified link, else the first link (``accounts`` oldest first)."""
    return next((a for a in accounts if a.verified), accounts[0] if accounts else None)


def values_of(account: LinkedAccount) -> dict[str, str] | None:
    """The placeholders' values; None when the account was never read (no name)."""
    if not account.name:
        return None
    return {
        "name": account.name,
        "th": str(account.town_hall) if account.town_hall else "",
        "clan": account.clan_name or "",
    }


def render(fmt: NicknameFormat, values: Mapping[str, str]) -> str | None:
    """The nickname (at most 32 characters), or None if it comes out empty."""
    vals = {k: " ".join(values.get(k, "").split()) for k in PLACEHOLDERS}
    uses = fmt.uses()

    def length() -> int:
        return fmt.fixed_length + sum(len(vals[k]) * n for k, n in uses.items())

    for key in SHORTEN_ORDER:
        over = length() - MAX_NICKNAME
        if over <= 0:
            break
        if not uses[key] or len(vals[key]) < _MIN_CUT:
            continue
        # Each use of the value gives up the same characters, plus one for the ellipsis.
        keep = len(vals[key]) - -(-over // uses[key]) - 1
        vals[key] = vals[key][: max(keep, 1)].rstrip() + ELLIPSIS
    text = "".join(p if i % 2 == 0 else vals[p] for i, p in enumerate(fmt.parts))
    text = " ".join(text.split())
    return text[:MAX_NICKNAME] or None
