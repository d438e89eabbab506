"""The fake Clash of Clans API in its own process, for benchmarks.

Started by a benchmark so the fake's serving CPU is not counted against the
tracker. Prints its base URL, then reads commands on stdin:
``mutate FRACTION SEED`` changes that share of players (trophies, donations)
and answers ``ok N``.

    python -m bench.fake_api_process PLAYERS
"""

from __future__ import annotations

import asyncio
import random
import sys

from bench.common import stdin_commands
from tests.fakes.coc_api import FakeCocApi, make_player

ALPHABET = "0289PYLQGRJCUV"


def bench_tags(count: int) -> list[str]:
    """``count`` distinct valid tags (deterministic)."""
    tags = []
    n = 0
    while len(tags) < count:
        digits, k = [], n
        for _ in range(8):
            digits.append(ALPHABET[k % len(ALPHABET)])
            k //= len(ALPHABET)
        tag = "#" + "".join(reversed(digits))
        if tag[1] != "0":
            tags.append(tag)
        n += 1
    return tags


def payload(tag: str, trophies: int, donations: int) -> dict:
    return make_player(
        tag, name=f"P{tag[1:]}", trophies=trophies, best_trophies=6000, donations=donations
    )


async def main(count: int) -> None:
    api = FakeCocApi(tokens=("bench-token",))
    await api.start()
    tags = bench_tags(count)
    state = {t: [3000, 0] for t in tags}
    api.bulk_set_players(payload(t, *state[t]) for t in tags)
    print(api.base_url, flush=True)
    async for parts in stdin_commands():
        if parts and parts[0] == "mutate":
            rng = random.Random(int(parts[2]))
            chosen = rng.sample(tags, int(len(tags) * float(parts[1])))
            for t in chosen:
                state[t][0] += rng.choice((-1, 1)) * rng.randint(5, 40)
                state[t][1] += rng.randint(1, 20)
            api.bulk_set_players(payload(t, *state[t]) for t in chosen)
            print(f"ok {len(chosen)}", flush=True)
    await api.stop()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
