"""Issue 17: the CPU one Clash of Clans request costs before the tracker uses it.

The floor under ``bench.api_budget``'s tracker CPU: the same fake API process
(``bench.budget_api``: its population, payloads and cache headers), asked through
the bot's own ``ClashApi`` (coc.py's request path: throttle, keys, aiohttp,
orjson) with nothing written anywhere. For each kind of request the tracker makes,
``--requests`` of them run at the keys' pace with the tracker's concurrency (32),
on uvloop and on asyncio's loop; the figure is this process's CPU per answer.
With ``bench.api_budget``'s mix of requests a second (read from its last result)
the floor becomes a share of one core: what the tracker would use at that rate if
storing the answers cost nothing.

    python -m bench.api_floor                 # 3,000 requests of each kind, both loops
    python -m bench.api_floor --requests 500 --mix api_budget_steady
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench.api_budget import FakeProcess, settings_env
from bench.budget_api import Population, tag_of
from bench.common import record
from bot import runtime
from bot.clash import ClashApi
from bot.profile import parse_player
from bot.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
PLAYERS, CLANS, KEYS, RATE = 100_000, 2000, 10, 30.0
CONCURRENCY = 32  # TRACKER_CONCURRENCY's default


def kinds(clash: ClashApi, pop: Population) -> dict[str, Callable[[int], Awaitable[Any]]]:
    async def player(i: int) -> Any:
        return parse_player(await clash.get_player(tag_of(i % PLAYERS), fresh=True))

    async def clan(i: int) -> Any:
        return await clash.get_clan(pop.clan_tag(i % CLANS), fresh=True)

    at_war = pop.war_clan_tags()

    async def currentwar(i: int) -> Any:
        return await clash.get_current_war(at_war[i % len(at_war)])

    active = pop.active_tags()

    async def battlelog(i: int) -> Any:
        return await clash.get_battle_log(active[i % len(active)])

    return {"player": player, "clan": clan, "currentwar": currentwar, "battlelog": battlelog}


async def measure(requests: int) -> dict[str, float]:
    """CPU milliseconds per answered request, by kind."""
    pop = Population(PLAYERS, CLANS)
    fake = FakeProcess([str(v) for v in (PLAYERS, CLANS, KEYS, RATE)])
    base_url = await fake.start()
    settings = load_settings(
        settings_env(base_url, "postgresql://unused", "/tmp", KEYS, RATE), dotenv=False
    )
    clash = ClashApi(settings)
    await clash.start()
    gate = asyncio.Semaphore(CONCURRENCY)
    out: dict[str, float] = {}
    try:
        for kind, ask in kinds(clash, pop).items():

            async def one(i: int, ask: Callable[[int], Awaitable[Any]] = ask) -> None:
                async with gate:
                    await ask(i)

            await asyncio.gather(*(one(i) for i in range(100)))  # connections, caches
            cpu = time.process_time()
            await asyncio.gather(*(one(100 + i) for i in range(requests)))
            out[kind] = round((time.process_time() - cpu) / requests * 1000, 3)
    finally:
        await clash.close()
        await fake.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--name", default="api_floor")
    parser.add_argument(
        "--mix", default="api_budget", help="the api_budget result whose request mix to cost"
    )
    opts = parser.parse_args()
    result: dict[str, Any] = {"requests_each": opts.requests, "cpu_ms_per_request": {}}
    for loop, fast in (("uvloop", True), ("asyncio", False)):
        result["cpu_ms_per_request"][loop] = runtime.run(measure(opts.requests), fast=fast)
    budget = ROOT / "bench" / "results" / f"{opts.mix}.json"
    if budget.exists():
        mix = json.loads(budget.read_text())["requests_per_s_by_kind"]
        result["mix_from"] = opts.mix
        result["mix_req_per_s"] = mix
        for loop, costs in result["cpu_ms_per_request"].items():
            # Kinds not measured here (raid seasons) are charged as a clan list.
            share = sum(rate * costs.get(kind, costs["clan"]) for kind, rate in mix.items())
            result[f"floor_share_of_one_core_{loop}"] = round(share / 1000, 3)
    for loop, costs in result["cpu_ms_per_request"].items():
        print(loop, " ".join(f"{k}={v} ms" for k, v in costs.items()))
    for key, value in result.items():
        if key.startswith("floor_share"):
            print(f"{key}: {value:.1%}")
    print("written to", record(opts.name, result))


if __name__ == "__main__":
    main()
