"""A simulated game for generated timelines: players, clans, donations, resets, a late API.

The truth is kept here, and what the API shows of it: after a season end
the API may keep serving the pre-reset snapshot for a while (a late reset),
and both endpoints (the clan's member list and the full profile) show the
same moment. Donations are troops only, so the lifetime achievement
(Friend in Need) rises by exactly what the counter rises by.
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


class Game:
    def __init__(self, start: datetime, clans: dict[str, str], members: list[Member]) -> None:
        self.now = start
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

    def player_payload(self, tag: str) -> dict[str, Any]:
        m = self.view(tag)
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
        members = [self.player_payload(t) for t, m in self._shown().items() if m.clan == clan]
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
