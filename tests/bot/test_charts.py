from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image

from bot.charts import HEIGHT_PX, WIDTH_PX, drawable, render_history

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
SEASON = datetime(2026, 10, 26, 5, tzinfo=UTC)


def decode(png: bytes) -> Image.Image:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(png))
    image.load()
    return image


def test_a_chart_is_a_png_of_the_fixed_size_with_a_transparent_background() -> None:
    points = [(NOW - timedelta(days=40 - i), 5000 + (i * 37) % 90) for i in range(40)]
    png = render_history(
        points, end=NOW, title="Trophies: Player (#2PP)", ylabel="Trophies", season_starts=[SEASON]
    )
    image = decode(png)
    assert image.format == "PNG"
    assert image.size == (WIDTH_PX, HEIGHT_PX) == (1000, 500)
    assert image.mode == "RGBA"
    # The corners are the figure's background: see-through, so the theme shows.
    assert image.getpixel((0, 0))[3] == 0
    assert image.getpixel((WIDTH_PX - 1, HEIGHT_PX - 1))[3] == 0


def test_the_line_reaches_now_even_when_the_last_change_is_old() -> None:
    points = [(NOW - timedelta(days=30), 10), (NOW - timedelta(days=20), 11)]
    image = decode(render_history(points, end=NOW, title="Town Hall", ylabel="Town Hall"))
    assert image.size == (WIDTH_PX, HEIGHT_PX)


def test_player_names_are_not_parsed_as_math() -> None:
    points = [(NOW - timedelta(days=2), 1), (NOW - timedelta(days=1), 2)]
    png = render_history(points, end=NOW, title="War stars: $\\frac{a}{$ (#2PP)", ylabel="x")
    assert decode(png).size == (WIDTH_PX, HEIGHT_PX)


def test_thousands_of_points_still_render_at_the_same_size() -> None:
    start = NOW - timedelta(days=365)
    points = [(start + timedelta(hours=2 * i), (i * 7919) % 3000) for i in range(4000)]
    png = render_history(points, end=NOW, title="Busy", ylabel="Trophies")
    assert decode(png).size == (WIDTH_PX, HEIGHT_PX)


def test_nothing_to_chart_is_an_error_not_an_empty_plot() -> None:
    with pytest.raises(ValueError, match="nothing to chart"):
        render_history([], end=NOW, title="x", ylabel="y")


def test_names_in_any_script_render() -> None:
    points = [(NOW - timedelta(days=2), 1), (NOW - timedelta(days=1), 2)]
    png = render_history(points, end=NOW, title="Trophies: 漢字 🐉 Ñame (#2PP)", ylabel="x")
    assert decode(png).size == (WIDTH_PX, HEIGHT_PX)


def test_characters_the_font_lacks_become_question_marks() -> None:
    assert drawable("Ñame 漢字 🐉 (#2PP)") == "Ñame ?? ? (#2PP)"
