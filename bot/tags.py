"""The one tag function every command uses.

coc.py corrects tags but never rejects them (``'hello world'`` becomes
``'#HELL0W0RLD'``), so a tag is normalised the way ``coc.utils.correct_tag``
does and then validated here, before any API request is made.
"""

from __future__ import annotations

import re

from bot.embeds import literal
from bot.errors import InvalidTag

TAG_ALPHABET = "0289PYLQGRJCUV"
_TAG_RE = re.compile(rf"#[{TAG_ALPHABET[1:]}][{TAG_ALPHABET}]{{2,11}}")
_STRIP_RE = re.compile(r"[^A-Z0-9]")


def normalise_tag(raw: str) -> str:
    """Upper-case, drop everything outside A-Z0-9, turn O into 0, prefix ``#``."""
    return "#" + _STRIP_RE.sub("", raw.upper()).replace("O", "0")


def parse_tag(raw: str | None) -> str:
    """Return the canonical tag for ``raw`` or raise ``InvalidTag``.

    Real tags are 3 to 12 characters of ``0289PYLQGRJCUV`` after ``#`` and
    never start with 0.
    """
    if raw is None:
        raise InvalidTag("")
    # Longer input cannot be a tag: refuse it before doing any work on it.
    if len(raw) > 64:
        raise InvalidTag(raw)
    tag = normalise_tag(raw)
    if not _TAG_RE.fullmatch(tag):
        raise InvalidTag(raw.strip())
    return tag


def is_valid_tag(raw: str) -> bool:
    try:
        parse_tag(raw)
    except InvalidTag:
        return False
    return True


def shown_tag(value: str | None) -> str:
    """A tag from the API as text: as it is when it is a tag (markdown-escaping one would
    show a stray backslash), else escaped like any text."""
    return value if value and _TAG_RE.fullmatch(value) else literal(value)
