"""Running the generated-timeline state machines (tests/bot/*/test_*timeline_model.py)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Coroutine
from pathlib import Path
from tempfile import gettempdir
from typing import Any, ClassVar, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, run_state_machine_as_test

from tests.db_fixtures import PgServer
from tests.fakes.coc_api import FakeCocApi
from tests.fakes.discord_server import FakeDiscord
from tests.harness import GUILD_ID, bot_on

T = TypeVar("T")


def run_machine(factory: Callable[[], RuleBasedStateMachine], examples: int, steps: int) -> None:
    """``examples`` timelines of up to ``steps`` steps, without deadlines: each step talks
    to a real database and fake servers, whose pace is not the test's."""
    run_state_machine_as_test(
        factory,
        settings=settings(
            max_examples=examples,
            stateful_step_count=steps,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )


class BotTimeline(RuleBasedStateMachine):
    """A timeline through the real bot, on an event loop of its own, a fresh database and
    both fakes. The subclass builds its world in ``build`` (the fakes started, the bot
    not yet) and ``seed`` (the bot running), and checks it in ``settle``; every timeline
    ends settled, whatever came before."""

    env: ClassVar[dict[str, str]] = {}

    def __init__(self, server: PgServer) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.server = server
        self.stack = contextlib.AsyncExitStack()
        self.run(self._start())

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    async def _start(self) -> None:
        self.dsn = await self.server.new_database()
        self.fake = FakeDiscord(guild_ids=(GUILD_ID,))
        self.coc = FakeCocApi(tokens=("test-token",))
        await self.fake.start()
        await self.coc.start()
        self.build()
        data_dir = Path(gettempdir()) / f"{type(self).__name__}-{os.getpid()}"
        self.h = await self.stack.enter_async_context(
            bot_on(self.fake, self.coc, self.dsn, data_dir, **self.env)
        )
        await self.seed()

    def build(self) -> None:
        """The fakes' world before the bot connects."""

    async def seed(self) -> None:
        """The database's world, the bot running."""

    def settle(self) -> None:
        raise NotImplementedError

    def teardown(self) -> None:
        async def close() -> None:
            await self.stack.aclose()
            await self.coc.stop()
            await self.fake.stop()
            await self.server.drop_database(self.dsn)

        try:
            self.settle()
        finally:
            try:
                self.run(close())
            finally:
                self.loop.close()
