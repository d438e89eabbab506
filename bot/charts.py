"""PNG charts of a stat over time.

Rendered with ``matplotlib.figure.Figure`` and the Agg canvas directly, never
pyplot: pyplot keeps global state and is not safe from the worker threads
that ``asyncio.to_thread`` runs this in.

Discord shows a PNG on a dark (#313338) or a light (#ffffff) background
depending on the user's theme. The figure is transparent, the plot area a
translucent grey, and text, lines and markers use mid-tone colours that keep
their contrast on both.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Sequence
from datetime import datetime

from matplotlib import dates as mdates
from matplotlib import font_manager, ft2font
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

WIDTH_PX = 1000
HEIGHT_PX = 500
DPI = 100

TEXT = "#8b929c"  # about 3.3:1 against both Discord backgrounds
GRID = (0.55, 0.57, 0.61, 0.35)
PLOT_AREA = (0.5, 0.5, 0.5, 0.10)
LINE = "#3b8eea"
FILL = (0.23, 0.56, 0.92, 0.15)
SEASON = "#e0883a"

# Markers only where they can be told apart.
MARKER_LIMIT = 60


@functools.cache
def _glyphs() -> frozenset[int]:
    """Code points the title font can draw, in both weights used."""
    found: frozenset[int] | None = None
    for weight in ("normal", "bold"):
        path = font_manager.findfont(font_manager.FontProperties(weight=weight))
        charmap = frozenset(ft2font.FT2Font(path).get_charmap())
        found = charmap if found is None else found & charmap
    return found or frozenset()


def drawable(text: str) -> str:
    """``text`` with characters the font lacks (CJK, emoji with the bundled DejaVu) as "?".

    matplotlib would draw boxes and warn once per glyph per render; the embed
    above the chart shows the name exactly.
    """
    glyphs = _glyphs()
    return "".join(c if ord(c) in glyphs or c.isspace() else "?" for c in text)


def _thousands(value: float, _position: object) -> str:
    return f"{value:,.0f}"


def render_history(
    points: Sequence[tuple[datetime, int]],
    *,
    end: datetime,
    title: str,
    ylabel: str,
    season_starts: Sequence[datetime] = (),
) -> bytes:
    """A step chart of ``points`` (each value holds until the next) extended to ``end``.

    Returns PNG bytes of exactly ``WIDTH_PX`` x ``HEIGHT_PX``.
    """
    if not points:
        raise ValueError("nothing to chart")
    xs = [at for at, _ in points]
    ys = [value for _, value in points]
    if xs[-1] < end:
        xs.append(end)
        ys.append(ys[-1])

    fig = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
    canvas = FigureCanvasAgg(fig)
    fig.patch.set_alpha(0.0)
    ax = fig.add_subplot()
    ax.set_facecolor(PLOT_AREA)

    ax.step(xs, ys, where="post", color=LINE, linewidth=2.4, zorder=3)
    ax.fill_between(xs, ys, min(ys), step="post", color=FILL, linewidth=0, zorder=2)
    if len(points) <= MARKER_LIMIT:
        ax.plot(xs[: len(points)], ys[: len(points)], "o", color=LINE, markersize=4, zorder=4)

    for boundary in season_starts:
        ax.axvline(boundary, color=SEASON, linestyle="--", linewidth=1.4, zorder=1)
        ax.annotate(
            "new season",
            xy=(mdates.date2num(boundary), 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(4, -4),
            textcoords="offset points",
            ha="left",
            va="top",
            fontsize=9,
            color=SEASON,
        )

    ax.set_xlim(xs[0], xs[-1])
    low, high = min(ys), max(ys)
    margin = max((high - low) * 0.08, 1)
    ax.set_ylim(low - margin, high + margin)

    locator = mdates.AutoDateLocator(minticks=4, maxticks=9)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, show_offset=False))
    ax.yaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
    ax.yaxis.set_major_formatter(FuncFormatter(_thousands))

    # Player names are arbitrary text: never parse them as mathtext ("$x$").
    ax.set_title(
        drawable(title),
        color=TEXT,
        fontsize=15,
        fontweight="bold",
        loc="left",
        pad=12,
        parse_math=False,
    )
    ax.set_xlabel("Date (UTC)", color=TEXT, fontsize=11)
    ax.set_ylabel(ylabel, color=TEXT, fontsize=11)
    ax.tick_params(colors=TEXT, labelsize=10)
    ax.grid(True, color=GRID, linewidth=0.8, zorder=0)
    for spine in ax.spines.values():
        spine.set_color(GRID)

    fig.subplots_adjust(left=0.09, right=0.98, top=0.88, bottom=0.13)
    buffer = io.BytesIO()
    # No bbox_inches="tight": it would change the size the embed (and the tests) rely on.
    canvas.print_png(buffer)
    return buffer.getvalue()
