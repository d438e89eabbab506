from __future__ import annotations

import coc.utils
import pytest

from bot.errors import InvalidTag
from bot.tags import normalise_tag, parse_tag


@pytest.mark.parametrize(
    ("raw", "tag"),
    [
        (" #9p9pryqo ", "#9P9PRYQ0"),
        ("2pp", "#2PP"),
        ("#2PP0JCCL", "#2PP0JCCL"),
        ("##2pp-0jc cl", "#2PP0JCCL"),
        ("#qqqqqqqqqqqq", "#QQQQQQQQQQQQ"),
        ("\x00#2PP", "#2PP"),
        ("#2PP\u202e", "#2PP"),
    ],
)
def test_sloppy_tags_are_normalised(raw: str, tag: str) -> None:
    assert parse_tag(raw) == tag


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "#",
        "hello world",
        "#0PP",
        "#2P",
        "#QQQQQQQQQQQQQ",
        "#9P9PRYQJ extra",
        "#ABC",
        "x" * 5000,
        "'; DROP TABLE players; --",
        "@everyone",
        "\u202e\u202e",
    ],
)
def test_garbage_is_refused(raw: str) -> None:
    with pytest.raises(InvalidTag):
        parse_tag(raw)


@pytest.mark.parametrize("raw", [" #9p9pryqo ", "hello world", "#abc o", "x-y_z"])
def test_normalisation_matches_coc_py(raw: str) -> None:
    assert normalise_tag(raw) == coc.utils.correct_tag(raw)


def test_the_reply_for_a_long_tag_is_short() -> None:
    with pytest.raises(InvalidTag) as info:
        parse_tag("#" + "Q" * 4000)
    assert len(info.value.message) < 300
