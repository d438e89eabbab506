"""The API budget, planned: what each kind of polling asks of the keys, and how far the
intervals stretch when the keys cannot serve it all.

The budget is keys times COC_THROTTLE_LIMIT requests a second (coc.py spreads them over
the keys), less a share kept for commands and bursts. Every tracked row costs one
request per interval: a clan's member list, war and raid weekend, a player's full
profile (every interval when tracked alone, every ``member_factor`` intervals when a
clan's list covers the rest) and the battle log of a player who played within a day.

When that asks for more than the budget, intervals stretch instead of a queue forming:
a queue serves whoever is due first and lets the rest fall behind without a bound,
a stretch slows everyone alike and says so in /status. Clan-wide requests go first
(one answers for 50 members) up to ``CLAN_SHARE`` of the budget; every player-level
kind then stretches by the same factor.

An interval left blank in the settings is its endpoint's cache age (read from the
answers' Cache-Control, at least the recorded one): asking sooner returns the same
answer. A blank TRACK_INTERVAL_SECONDS serves clans and players tracked on their own
alike, so it is the longer of the two ages (the clans'). A blank battle log interval
follows the track interval (a read also comes as soon as a reading shows the player
battled).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.api_throttle import pace
from bot.settings import Settings

# The API's cache ages (Cache-Control max-age, seconds) as recorded: the least a blank
# interval is; a longer age the answers said (ClashApi.cache_ages) wins.
CACHE_AGES: dict[str, float] = {
    "player": 60.0,
    "clan": 120.0,
    "war": 120.0,
    "raid": 60.0,
    "battlelog": 60.0,
}
# Of what the requests' pace lets through (bot.api_throttle.pace: about 83% of keys x
# rate), what polling may plan on: the rest answers commands and absorbs bursts.
HEADROOM = 0.85
# Clan-wide requests are served first, up to this share of the budget.
CLAN_SHARE = 0.6


@dataclass(frozen=True, slots=True)
class Workload:
    """Rows each poller reads once per interval."""

    clans: int = 0
    direct_players: int = 0  # tracked on their own: a full profile every interval
    member_players: int = 0  # tracked only through a clan: every member_factor intervals
    war_clans: int = 0
    private_war_clans: int = 0  # of war_clans, a private war log: every private_factor
    raid_clans: int = 0
    battle_players: int = 0  # played within a day: their battle log


@dataclass(frozen=True, slots=True)
class Intervals:
    """Seconds between two reads of one row, as asked (before any stretch)."""

    track: float
    war: float
    raid: float
    battlelog: float
    member_factor: float = 6.0
    # A private war log is asked about this many times less often; raid weekends too,
    # between weekends (the war and raid pollers' own factors).
    private_factor: float = 4.0
    raid_factor: float = 1.0


@dataclass(frozen=True, slots=True)
class Plan:
    capacity: float  # requests/s polling may use
    wanted: float  # requests/s the asked intervals need
    planned: float  # requests/s after stretching
    clan_stretch: float = 1.0
    player_stretch: float = 1.0

    @property
    def short(self) -> bool:
        return self.clan_stretch > 1.0 or self.player_stretch > 1.0


def capacity(settings: Settings) -> float:
    """Requests a second polling may plan on with these keys."""
    keys = len(settings.coc_tokens) or settings.coc_key_count
    return pace(keys * settings.coc_throttle_limit) * HEADROOM


def asked_intervals(
    settings: Settings,
    cache_ages: Mapping[str, float],
    member_factor: float,
    *,
    private_factor: float = 4.0,
    raid_factor: float = 1.0,
) -> Intervals:
    """The settings' intervals; a blank one is never below its endpoint's cache age (the
    longest the answers said, at least the recorded one): sooner returns the same
    answer. Players tracked on their own share the clans' interval."""

    def floor(name: str, value: float, endpoint: str) -> float:
        if name in settings.planned_intervals:
            return max(cache_ages.get(endpoint, 0.0), CACHE_AGES[endpoint])
        return value

    track = floor("track", settings.track_interval_seconds, "clan")
    track = max(track, floor("track", settings.track_interval_seconds, "player"))
    return Intervals(
        track=track,
        war=floor("war", settings.war_interval_seconds, "war"),
        raid=floor("raid", settings.raid_interval_seconds, "raid"),
        # Blank, it follows the planned track interval, as DESIGN has it (never below
        # the log's own cache age).
        battlelog=max(track, floor("battlelog", settings.battlelog_interval_seconds, "battlelog"))
        if "battlelog" in settings.planned_intervals
        else settings.battlelog_interval_seconds,
        member_factor=member_factor,
        private_factor=private_factor,
        raid_factor=raid_factor,
    )


def clan_rate(work: Workload, asked: Intervals) -> float:
    public = work.war_clans - work.private_war_clans
    return (
        work.clans / asked.track
        + public / asked.war
        + work.private_war_clans / (asked.war * asked.private_factor)
        + work.raid_clans / (asked.raid * asked.raid_factor)
    )


def player_rate(work: Workload, asked: Intervals) -> float:
    return (
        work.direct_players / asked.track
        + work.member_players / (asked.track * asked.member_factor)
        + work.battle_players / asked.battlelog
    )


def make_plan(work: Workload, asked: Intervals, budget: float) -> Plan:
    """Stretch factors that fit ``work`` at ``asked`` intervals into ``budget`` req/s."""
    clans, players = clan_rate(work, asked), player_rate(work, asked)
    clan_stretch = max(1.0, clans / (budget * CLAN_SHARE))
    left = budget - clans / clan_stretch
    player_stretch = max(1.0, players / left) if players else 1.0
    return Plan(
        capacity=budget,
        wanted=clans + players,
        planned=clans / clan_stretch + players / player_stretch,
        clan_stretch=clan_stretch,
        player_stretch=player_stretch,
    )


@dataclass
class Budget:
    """The plan in force in this process: every poller reads its interval here, so a
    new plan takes effect at each row's next schedule."""

    asked: Intervals
    plan: Plan = field(default_factory=lambda: Plan(0.0, 0.0, 0.0))

    @classmethod
    def fixed(cls, settings: Settings, member_factor: float = 6.0) -> Budget:
        """The settings' intervals as they are (no plan yet): tests, one-shot runs."""
        return cls(
            Intervals(
                track=settings.track_interval_seconds,
                war=settings.war_interval_seconds,
                raid=settings.raid_interval_seconds,
                battlelog=settings.battlelog_interval_seconds,
                member_factor=member_factor,
            )
        )

    def clans(self) -> float:
        return self.asked.track * self.plan.clan_stretch

    def wars(self) -> float:
        return self.asked.war * self.plan.clan_stretch

    def raids(self) -> float:
        return self.asked.raid * self.plan.clan_stretch

    def players(self) -> float:
        return self.asked.track * self.plan.player_stretch

    def battle_logs(self) -> float:
        return self.asked.battlelog * self.plan.player_stretch
