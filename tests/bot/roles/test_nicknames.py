"""Nickname formats: refused when they can never fit, filled within 32 characters."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bot.errors import InvalidOption
from bot.roles.nicknames import (
    ELLIPSIS,
    MAX_NICKNAME,
    main_account,
    parse_format,
    render,
    values_of,
)
from db.model import LinkedAccount

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def test_fills_placeholders() -> None:
    fmt = parse_format("{name} | TH{th} [{clan}]")
    assert render(fmt, {"name": "Bob", "th": "17", "clan": "Reddit"}) == "Bob | TH17 [Reddit]"


def test_shortens_at_the_name_first_with_an_ellipsis() -> None:
    fmt = parse_format("{name} | TH{th} | {clan}")
    nick = render(fmt, {"name": "ABCDEFGHIJKLMNO", "th": "17", "clan": "The Clan Family"})
    assert nick == "ABCDEF… | TH17 | The Clan Family"
    assert len(nick) <= MAX_NICKNAME


def test_then_the_clan_when_the_name_is_not_enough() -> None:
    fmt = parse_format("{name} the great and mighty of {clan}")
    nick = render(fmt, {"name": "ABCDEFGHIJKLMNO", "th": "1", "clan": "The Clan Family"})
    assert nick is not None and len(nick) <= MAX_NICKNAME
    assert nick.startswith("A… the great and mighty of ")
    assert nick.endswith(ELLIPSIS)


@pytest.mark.parametrize(
    "bad",
    ["", "   ", "{name", "{nick}", "{name} {0}", "a\nb", "x" * 31 + "{name}", "{name.__class__}"],
)
def test_refuses_formats_that_cannot_be_nicknames(bad: str) -> None:
    with pytest.raises(InvalidOption):
        parse_format(bad)


def test_no_clan_leaves_no_dangling_spaces() -> None:
    assert render(parse_format("{name} {clan}"), {"name": "Bob", "th": "9", "clan": ""}) == "Bob"


def test_main_account_is_the_first_verified_else_the_first() -> None:
    a = LinkedAccount("#A", False, T0, name="A")
    b = LinkedAccount("#B", True, T0, name="B")
    c = LinkedAccount("#C", True, T0, name="C")
    assert main_account([a, b, c]) is b
    assert main_account([a]) is a
    assert main_account([]) is None
    assert values_of(LinkedAccount("#D", False, T0)) is None


# Game names are up to 15 characters, clan names up to 15; any printable text is tried.
text = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=20)
pieces = st.lists(
    st.sampled_from(["{name}", "{th}", "{clan}", " | ", "TH", "[", "]", "-", "x" * 7]), max_size=8
)


@given(pieces=pieces, name=text, clan=text, th=st.integers(1, 18))
@example(
    pieces=["{name}", "{name}", "{clan}", "x" * 7, "x" * 7], name="N" * 20, clan="C" * 20, th=17
)
def test_any_fitting_format_gives_at_most_32_characters_and_cuts_only_with_an_ellipsis(
    pieces: list[str], name: str, clan: str, th: int
) -> None:
    try:
        fmt = parse_format("".join(pieces))
    except InvalidOption:
        return
    values = {"name": name, "th": str(th), "clan": clan}
    nick = render(fmt, values)
    if nick is None:
        return
    assert 1 <= len(nick) <= MAX_NICKNAME

    # The nickname is the format filled with each value whole, or a prefix of it ending
    # in the ellipsis: never a value cut without one.
    def forms(value: str) -> list[str]:
        whole = " ".join(value.split())
        return [whole] + [whole[:k].rstrip() + ELLIPSIS for k in range(1, len(whole))]

    def fill(chosen: dict[str, str]) -> str:
        out = "".join(p if i % 2 == 0 else chosen[p] for i, p in enumerate(fmt.parts))
        return " ".join(out.split())

    assert any(
        fill({"name": n, "th": t, "clan": c}) == nick
        for n, t, c in itertools.product(forms(name), forms(str(th)), forms(clan))
    )
