"""Load: many interactions at once against the real bot on a small pool.

The real bot runs in process (discord.py, coc.py, asyncpg, every cog) against
the fake Discord and the fake Clash API, on an embedded PostgreSQL (or
BENCH_DATABASE_URL). N interactions are sent at once (ROUNDS times, fresh
/player tags each round), a mix of /player (an API request and a write),
/track list, /leaderboard and /status (reads); each is timed from the moment
the fake Discord sent it to the bot's final reply, and checked for the right
content. POOL_MAX_SIZE is the pool under test; one of its connections is held
by the feed sender's LISTEN, as in production.

    python -m bench.load_interactions [interactions] [pool_size] [rounds]

Writes bench/results/load_interactions.json.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import database, record
from bot.tracker.engine import Tracker
from db import guild_tracking
from db.migrate import migrate
from db.pool import create_pool
from tests.fakes.coc_api import make_player
from tests.fakes.discord_server import Interaction
from tests.harness import GUILD_ID, Harness, opt, running_bot, sub

ALPHABET = "0289PYLQGRJCUV"
TRACKED = 50  # players tracked by the guild (the leaderboard and list show them)
# (command, share of the interactions)
MIX = (("player", 0.5), ("track list", 0.2), ("leaderboard", 0.2), ("status", 0.1))


def tag_of(n: int) -> str:
    digits = ""
    for _ in range(4):
        n, r = divmod(n, len(ALPHABET))
        digits += ALPHABET[r]
    return "#L" + digits


def name_of(tag: str) -> str:
    return "Load " + tag[1:]


@dataclass
class Shot:
    kind: str
    tag: str | None
    interaction: Interaction
    done: float | None = None
    error: str | None = None

    @property
    def round_trip(self) -> float | None:
        return None if self.done is None else self.done - self.interaction.sent_at


async def seed(h: Harness, players: int) -> list[str]:
    """``players`` players in the fake API; the first TRACKED tracked and polled once."""
    tags = [tag_of(n) for n in range(players)]
    h.coc.bulk_set_players(
        make_player(t, name=name_of(t), trophies=3000 + n) for n, t in enumerate(tags)
    )
    async with h.pool.acquire() as con:
        for tag in tags[:TRACKED]:
            await guild_tracking.track_player(con, GUILD_ID, tag, 1)
    tracker = Tracker(settings=h.settings, pool=h.pool, clash=h.bot.clash)
    await tracker.run_once()
    return tags


def plan(n: int, tags: list[str]) -> list[tuple[str, str | None]]:
    """``n`` commands in the MIX proportions, interleaved; /player on distinct tags."""
    counts = {kind: round(share * n) for kind, share in MIX}
    counts["player"] += n - sum(counts.values())
    kinds = [kind for kind, _ in MIX]
    order: list[tuple[str, str | None]] = []
    players = iter(tags)
    while len(order) < n:
        for kind in kinds:
            if counts[kind]:
                counts[kind] -= 1
                order.append((kind, next(players) if kind == "player" else None))
    return order


async def send(h: Harness, kind: str, tag: str | None) -> Interaction:
    if kind == "player":
        return await h.send("player", opt("tag", tag))
    if kind == "track list":
        return await h.send("track", sub("list"))
    if kind == "leaderboard":
        return await h.send("leaderboard", opt("stat", "trophies"))
    return await h.send("status")


def check(shot: Shot) -> str | None:
    """What is wrong with the reply, or None."""
    reply = shot.interaction.response
    if reply is None:
        return "no reply"
    embeds = reply.embeds
    title = embeds[0].get("title", "") if embeds else ""
    if reply.ephemeral or not embeds:
        return f"refused: {reply.content!r}"
    expected = {
        "player": name_of(shot.tag or ""),
        "track list": f"Tracked players ({TRACKED})",
        "leaderboard": "Trophies",
        "status": "Status",
    }[shot.kind]
    return None if expected in title else f"unexpected title {title!r}"


async def fire(h: Harness, n: int, tags: list[str], wait_s: float = 120.0) -> list[Shot]:
    """Send ``n`` interactions at once; wait for every final reply."""
    shots = [Shot(kind, tag, await send(h, kind, tag)) for kind, tag in plan(n, tags)]

    async def wait(shot: Shot) -> None:
        try:
            await shot.interaction.wait_response(timeout=wait_s)
            shot.done = time.monotonic()
            shot.error = check(shot)
        except TimeoutError:
            shot.error = "no reply"

    await asyncio.gather(*(wait(s) for s in shots))
    return shots


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def summarise(shots: list[Shot], pool_size: int, wall: float) -> dict[str, Any]:
    trips = [s.round_trip * 1000 for s in shots if s.round_trip is not None]
    acks = [
        s.interaction.ack_latency * 1000 for s in shots if s.interaction.ack_latency is not None
    ]
    by_kind: dict[str, list[float]] = {}
    for s in shots:
        if s.round_trip is not None:
            by_kind.setdefault(s.kind, []).append(s.round_trip * 1000)
    return {
        "interactions": len(shots),
        "pool_max_size": pool_size,
        "answered": sum(s.done is not None for s in shots),
        "correct": sum(s.done is not None and s.error is None for s in shots),
        "errors": sorted({s.error for s in shots if s.error}),
        "mix": {kind: len(v) for kind, v in by_kind.items()},
        "round_trip_ms": {
            "p50": round(statistics.median(trips), 1) if trips else None,
            "p99": round(percentile(trips, 99), 1) if trips else None,
            "max": round(max(trips), 1) if trips else None,
        },
        "ack_ms": {
            "p50": round(statistics.median(acks), 1) if acks else None,
            "p99": round(percentile(acks, 99), 1) if acks else None,
            "max": round(max(acks), 1) if acks else None,
        },
        "p50_by_command_ms": {k: round(statistics.median(v), 1) for k, v in by_kind.items()},
        "wall_s": round(wall, 2),
    }


async def run_load(h: Harness, n: int, rounds: int = 1) -> dict[str, Any]:
    """Seed, warm up, then fire ``n`` interactions at once, ``rounds`` times."""
    tags = await seed(h, n * rounds + 4)
    for kind, tag in plan(4, tags[-4:]):  # warm-up: first-use costs out of the figures
        await (await send(h, kind, tag)).wait_response(timeout=30)
    shots: list[Shot] = []
    walls = []
    for r in range(rounds):
        start = time.monotonic()
        shots += await fire(h, n, tags[r * n : (r + 1) * n])
        walls.append(time.monotonic() - start)
    result = summarise(shots, h.settings.pool_max_size, sum(walls))
    result["rounds"] = rounds
    result["round_wall_s"] = [round(w, 2) for w in walls]
    return result


async def measure(
    dsn: str, n: int, pool_size: int, data_dir: Path, rounds: int = 1
) -> dict[str, Any]:
    pool = await create_pool(dsn, min_size=1, max_size=2, command_timeout=60)
    try:
        await migrate(pool)
    finally:
        await pool.close()
    async with running_bot(dsn, data_dir, POOL_MAX_SIZE=str(pool_size)) as h:
        return await run_load(h, n, rounds)


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    pool_size = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    with database(tcp=False) as dsns, tempfile.TemporaryDirectory() as tmp:
        dsn = dsns.get("socket") or dsns["tcp"]
        result = asyncio.run(measure(dsn, n, pool_size, Path(tmp), rounds))
    path = record("load_interactions", result)
    trip, ack = result["round_trip_ms"], result["ack_ms"]
    print(
        f"{result['correct']}/{result['interactions']} answered correctly ({rounds} rounds of "
        f"{n} at once) on a pool of {pool_size}; send to final reply p50 {trip['p50']} ms, "
        f"p99 {trip['p99']} ms, max {trip['max']} ms; first acknowledgement p99 "
        f"{ack['p99']} ms (rounds took {result['round_wall_s']} s)"
    )
    print(f"written to {path}")
    if result["correct"] != result["interactions"]:
        print(f"errors: {result['errors']}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
