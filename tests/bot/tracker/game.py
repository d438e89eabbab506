"""A simulated game for generated timelines: players, clans, donations, resets, a late API.

The truth is kept here, and what the API shows of it:

- after a season end the API may keep serving the pre-reset state for a
  while (a late reset);
- with ``cached`` on, each endpoint (a player's profile, a clan's member
  list) answers like the real API: the first request after its cache age
  (1 minute, 2 minutes) takes a snapshot, and later requests within that age
  get the same snapshot. So one endpoint can answer from before a move or a
  reset that another already shows.

Donations are troops only, so the lifetime achievement (Friend in Need)
rises by exactly what the counter rises by. ``read_profile``/``read_list``
return what an endpoint answers now and the moment that answer shows (its
data time): the oracle's truth is measured up to that moment.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.tracker.seasons import season_end, season_start
from tests.fakes.coc_api import make_clan, make_player, set_achievement

LIFETIME_BASE = 10_000  # Friend in Need before the timeline starts


@dataclass
class Member:
    tag: str
    name: str
    clan: str | None
    donations: int = 0  # the game's season counters
    received: int = 0
    lifetime: int = LIFETIME_BASE  # Friend in Need
    trophies: int = 3000
    town_hall: int = 12
    queen: int = 50
    # The truth: every donation and receipt, with its time and season.
    given: list[tuple[datetime, int]] = field(default_factory=list)
    got: list[tuple[datetime, int]] = field(default_factory=list)


@dataclass
class Zeroing:
    """A counter reset (a leave or a season end): what was on the counters then."""

    at: datetime
    donations: int
    received: int


PROFILE_AGE = timedelta(minutes=1)
LIST_AGE = timedelta(minutes=2)


class Game:
    def __init__(
        self,
        start: datetime,
        clans: dict[str, str],
        members: list[Member],
        *,
        cached: bool = False,
    ) -> None:
        self.now = start
        self.cached = cached
        # endpoint -> (data time, what it answers)
        self._answers: dict[str, tuple[datetime, Any]] = {}
        self._taken: dict[str, datetime] = {}
        self.clans = clans  # tag -> name
        self.members = {m.tag: m for m in members}
        self._frozen: dict[str, Member] | None = None
        self._frozen_until: datetime | None = None
        self.zeroings: dict[str, list[Zeroing]] = {m.tag: [] for m in members}
        self.season_ends: list[datetime] = []

    # -- what players do ---------------------------------------------------------------
    # Every action takes a second, so that no two things happen at the same instant.

    def tick(self) -> None:
        self.advance(timedelta(seconds=1))

    def donate(self, giver: str, receiver: str, units: int) -> bool:
        self.tick()
        g, r = self.members[giver], self.members[receiver]
        if g.clan is None or g.clan != r.clan or giver == receiver or units <= 0:
            return False
        g.donations += units
        g.lifetime += units
        g.given.append((self.now, units))
        r.received += units
        r.got.append((self.now, units))
        return True

    def leave(self, tag: str) -> bool:
        self.tick()
        m = self.members[tag]
        if m.clan is None:
            return False
        self._zero(m)
        m.clan = None
        return True

    def join(self, tag: str, clan: str) -> bool:
        self.tick()
        m = self.members[tag]
        if m.clan == clan:
            return False
        if m.clan is not None:
            self._zero(m)  # a move is a leave and a join
        m.clan = clan
        return True

    def rejoin(self, tag: str) -> bool:
        self.tick()
        m = self.members[tag]
        if m.clan is None:
            return False
        clan = m.clan
        self._zero(m)
        m.clan = clan
        return True

    def upgrade(self, tag: str) -> None:
        self.tick()
        m = self.members[tag]
        if m.town_hall < 18:
            m.town_hall += 1
        m.queen += 1

    def rename(self, tag: str, name: str) -> None:
        self.tick()
        self.members[tag].name = name

    def battle(self, tag: str, trophies: int) -> None:
        self.tick()
        m = self.members[tag]
        m.trophies = max(0, m.trophies + trophies)

    def _zero(self, m: Member) -> None:
        self.zeroings[m.tag].append(Zeroing(self.now, m.donations, m.received))
        m.donations = 0
        m.received = 0

    # -- time ----------------------------------------------------------------------------

    def advance(self, delta: timedelta, lag: timedelta = timedelta(0)) -> list[datetime]:
        """Move time on; at a season end every counter resets, and the API keeps
        showing the pre-reset snapshot for ``lag``. Returns the season ends crossed."""
        target = self.now + delta
        crossed: list[datetime] = []
        while (boundary := season_end(self.now)) <= target:
            self.now = boundary
            self._thaw()
            if lag > timedelta(0):
                self._frozen = copy.deepcopy(self.members)
                self._frozen_until = boundary + lag
            for m in self.members.values():
                self._zero(m)
            crossed.append(boundary)
            self.season_ends.append(boundary)
        self.now = target
        self._thaw()
        return crossed

    def _thaw(self) -> None:
        if self._frozen_until is not None and self.now >= self._frozen_until:
            self._frozen, self._frozen_until = None, None

    @property
    def api_time(self) -> datetime:
        """The moment the API's answers show: just before the season end while late."""
        if self._frozen is not None:
            return season_start(self.now) - timedelta(microseconds=1)
        return self.now

    # -- what the API shows ---------------------------------------------------------------

    def view(self, tag: str) -> Member:
        return (self._frozen or self.members)[tag]

    def _answer(self, endpoint: str, age: timedelta, make: Any) -> tuple[datetime, Any]:
        # A cached answer ages from when it was taken (not from the moment its data
        # shows: during a late reset that is pinned before the season end).
        held = self._answers.get(endpoint)
        taken = self._taken.get(endpoint)
        if self.cached and held is not None and taken is not None and self.now - taken < age:
            return held
        answer = (self.api_time, make())
        self._answers[endpoint], self._taken[endpoint] = answer, self.now
        return answer

    def snapshot(self, endpoint: str) -> None:
        """Another caller of the API's shared cache asks ``endpoint`` now: the answer it
        caches is what the bot may be served later, though the bot never read it."""
        if endpoint.startswith("profile:"):
            self.read_profile(endpoint.removeprefix("profile:"))
        else:
            self.read_list(endpoint.removeprefix("list:"))

    def answered_at(self, endpoint: str) -> datetime:
        """The moment the last answer of ``endpoint`` showed (``profile:#TAG``, ``list:#C``)."""
        return self._answers[endpoint][0]

    def read_profile(self, tag: str) -> tuple[datetime, Member]:
        """What the profile endpoint answers now, and the moment it shows."""
        return self._answer(f"profile:{tag}", PROFILE_AGE, lambda: copy.deepcopy(self.view(tag)))

    def read_list(self, clan: str) -> tuple[datetime, list[Member]]:
        """What the clan's member list answers now, and the moment it shows."""
        return self._answer(
            f"list:{clan}",
            LIST_AGE,
            lambda: [copy.deepcopy(m) for m in self._shown().values() if m.clan == clan],
        )

    def player_payload(self, tag: str) -> dict[str, Any]:
        return self._payload(self.read_profile(tag)[1])

    def _payload(self, m: Member) -> dict[str, Any]:
        clan = (m.clan, self.clans[m.clan]) if m.clan else None
        payload = make_player(
            m.tag,
            name=m.name,
            town_hall=m.town_hall,
            trophies=m.trophies,
            donations=m.donations,
            received=m.received,
            clan=clan,
            heroes={"Archer Queen": m.queen},
        )
        set_achievement(payload, "Friend in Need", m.lifetime)
        set_achievement(payload, "Sharing is caring", 0)
        set_achievement(payload, "Siege Sharer", 0)
        return payload

    def clan_payload(self, clan: str) -> dict[str, Any]:
        members = [self._payload(m) for m in self.read_list(clan)[1]]
        return make_clan(clan, members, name=self.clans[clan])

    def _shown(self) -> dict[str, Member]:
        return self._frozen or self.members

    # -- the truth ------------------------------------------------------------------------

    def given(self, tag: str, since: datetime, until: datetime) -> int:
        return sum(n for at, n in self.members[tag].given if since < at <= until)

    def got(self, tag: str, since: datetime, until: datetime) -> int:
        return sum(n for at, n in self.members[tag].got if since < at <= until)

    def given_by_season(self, tag: str, since: datetime, until: datetime) -> dict[datetime, int]:
        seasons: dict[datetime, int] = {}
        for at, n in self.members[tag].given:
            if since < at <= until:
                key = season_start(at)
                seasons[key] = seasons.get(key, 0) + n
        return seasons
