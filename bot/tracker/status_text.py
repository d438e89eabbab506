"""/status's lines on the API budget and on how fresh each kind of data is."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# Shown in this order; a kind with no rows is left out.
KINDS = ("clans", "profiles", "wars", "battle logs")


def duration(seconds: float) -> str:
    """``45 s``, ``12 min``, ``3.5 h``: short enough for an embed field."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def budget_text(plan: Any, keys: int, rate: int) -> str:
    """The plan in force (a ``db.budget.load_plan`` row): what is used of the keys, and
    whether polling is stretched because they do not suffice."""
    if plan is None or plan["budget_capacity"] is None:
        return f"{keys} key(s) x {rate} req/s; no plan yet (no tracker has run)"
    line = (
        f"{plan['budget_planned']:.1f} of {plan['budget_capacity']:.0f} req/s planned "
        f"({keys} key(s) x {rate} req/s, less a share for commands)"
    )
    clan, player = plan["clan_stretch"], plan["player_stretch"]
    if clan > 1.0 or player > 1.0:
        line += (
            f"\n**Budget short**: {plan['budget_wanted']:.0f} req/s wanted. Every interval "
            f"is stretched alike: clans {clan:.2f}x, players {player:.2f}x. "
            "More keys (COC_TOKENS, COC_KEY_COUNT) or longer intervals fix it."
        )
    return line


# A measurement older than this says so: the planner measures once a minute, so no
# tracker has run since.
STALE_MEASUREMENT = 180.0


def freshness_text(rows: Sequence[Any]) -> str:
    """One line per kind: the age of its newest reading at p50 and p95 now (as measured,
    plus the time since), and the rows still waiting for their first."""
    if not rows:
        return "not measured yet (no tracker has run)"
    by_kind = {r["kind"]: r for r in rows}
    lines = []
    since = max(0.0, max(r["since"] for r in rows))
    for kind in KINDS:
        r = by_kind.get(kind)
        if r is None or (r["polled"] == 0 and r["waiting"] == 0):
            continue
        if r["polled"]:
            p50, p95 = r["p50"] + since, r["p95"] + since
            line = f"{kind}: p50 {duration(p50)}, p95 {duration(p95)} old"
        else:
            line = f"{kind}: none read yet"
        if r["waiting"]:
            line += f" ({r['waiting']} waiting for a first read)"
        lines.append(line)
    if not lines:
        return "nothing tracked yet"
    if since > STALE_MEASUREMENT:
        lines.append(f"measured {duration(since)} ago: no tracker has measured since")
    return "\n".join(lines)
