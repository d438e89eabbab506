"""Types every layer shares: plain, frozen dataclasses with no I/O.

This module imports nothing of the application, so db/ can store and load
these values without reaching up into bot/. Parsing the API's JSON into
them lives in bot/ (``bot.profile``); the rules that change them live in
``bot.tracker``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# The stats the bot tracks, in display order. Names match the command
# choices and the columns of ``players`` and ``player_history``.
STATS: tuple[str, ...] = (
    "trophies",
    "best_trophies",
    "donations",
    "donations_received",
    "attack_wins",
    "defense_wins",
    "war_stars",
    "exp_level",
    "town_hall",
    "builder_trophies",
    "capital_contributions",
)


@dataclass(frozen=True, slots=True)
class PlayerProfile:
    """A player as one reading of the API shows them.

    ``lifetime_donations`` is the sum of the three lifetime donation
    achievements (Friend in Need, Sharing is caring, Siege Sharer); only a
    full profile carries achievements, so a clan member list leaves it None.
    """

    tag: str
    name: str
    town_hall: int
    exp_level: int
    trophies: int
    best_trophies: int
    war_stars: int
    attack_wins: int
    defense_wins: int
    donations: int
    donations_received: int
    builder_trophies: int
    best_builder_trophies: int
    builder_hall: int
    capital_contributions: int
    league: str | None
    clan_tag: str | None
    clan_name: str | None
    role: str | None
    heroes: dict[str, int] = field(default_factory=dict)
    lifetime_donations: int | None = None
    games_champion: int | None = None
    # Ranked play (full profiles only): ``leagueTier``'s id, ``currentLeagueSeasonId`` and
    # ``previousLeagueSeasonId`` (the last week the player played in a league group).
    league_tier_id: int | None = None
    league_season_id: int | None = None
    league_previous_season_id: int | None = None

    def stat(self, name: str) -> int:
        return int(getattr(self, name))


@dataclass(frozen=True, slots=True)
class HistoryPoint:
    """One history row, narrowed to one stat."""

    at: datetime
    value: int  # the stat as the game shows it
    total: int | None = None  # the running total, for the donation counters


@dataclass(frozen=True, slots=True)
class Witness:
    """The lifetime donation achievements at the last full profile that agreed with the counter.

    ``counter`` is that profile's season counter and ``total`` the running
    total credited up to it: between two witnesses, the achievements say
    exactly how much was donated, whatever the counter did in between.
    """

    lifetime: int
    counter: int
    total: int
    season: datetime
    at: datetime


@dataclass(frozen=True, slots=True)
class Pending:
    """A reading held after a season end because it could not be placed yet."""

    endpoint: str
    clan_tag: str | None
    donations: int
    received: int


# The anchor of a state stored before the counter model: its last reading came from an
# endpoint nobody recorded (the name matches none).
LEGACY_ANCHOR = "legacy"


@dataclass(frozen=True, slots=True)
class CounterState:
    """What the tracker remembers of a player's donation counters between readings.

    The game zeroes both counters at each season end and when a player
    leaves a clan; an *epoch* is the stretch between two such resets, and
    ``donations``/``received`` are the counter values credited so far in the
    current one (the baseline the next reading is compared with), in
    ``clan_tag`` (the epoch's clan: the stored profile may already show a
    clan whose counters are not placed yet).

    Readings come from *endpoints* (``profile``, or ``list:#CLAN`` for a
    clan's member list), each cached for its own time, so a reading may be
    older than one read before it. ``anchor``/``anchor_at`` name the last
    reading that was placed, ``epoch_source``/``epoch_at`` the one that
    began the epoch (``recent_clans``: the clans of the epochs before), and
    ``last_list``/``last_profile`` what the epoch clan's list and the profile
    last showed in this epoch.
    """

    season: datetime
    clan_tag: str | None
    donations: int
    received: int
    donations_total: int
    received_total: int
    last_list: tuple[int, int] | None = None
    last_profile: tuple[int, int] | None = None
    witness: Witness | None = None
    anchor: str | None = None
    anchor_at: datetime | None = None
    epoch_source: str | None = None
    epoch_at: datetime | None = None
    # The clans of the epochs that ended within the longest cache age, with when
    # each ended: an answer cached from before then may still show them.
    recent_clans: tuple[tuple[str | None, datetime], ...] = ()
    pending: Pending | None = None


@dataclass(frozen=True, slots=True)
class Credit:
    """Donations and receipts credited to one season by one reading."""

    season: datetime
    donations: int
    received: int


@dataclass(frozen=True, slots=True)
class Stored:
    """A player's stored state: the last profile and the counter model's memory."""

    profile: PlayerProfile
    fetched_at: datetime
    counters: CounterState


@dataclass(frozen=True, slots=True)
class Event:
    tag: str
    occurred_at: datetime
    kind: str
    old_value: str | None = None
    new_value: str | None = None
    delta: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Change:
    """What one observation changes: the new state, a history row or not, events, credits."""

    stored: Stored
    history: bool
    events: list[Event]
    credits: list[Credit]
    # The signs of play the reading showed (bot.tracker.activity), if any.
    active: tuple[str, ...] = ()
    # The reading showed battles (bot.battles.watch): the battle log is due.
    battled: bool = False


# -- wars ------------------------------------------------------------------------------------

CLAN_SIDE = "clan"
OPPONENT_SIDE = "opponent"


@dataclass(frozen=True, slots=True)
class WarMember:
    """A member of one side's war lineup."""

    side: str  # CLAN_SIDE (the tracked clan) or OPPONENT_SIDE
    tag: str
    name: str
    town_hall: int
    map_position: int


@dataclass(frozen=True, slots=True)
class WarAttack:
    """One attack of a war; ``order`` numbers a war's attacks (both sides) from 1."""

    order: int
    attacker_tag: str
    defender_tag: str
    stars: int
    destruction: float
    duration: int


# Preparation lengths a friendly war can be set to, in seconds (5 minutes to 24 hours).
FRIENDLY_PREPARATIONS = frozenset(
    m * 60 for m in (5, 15, 30, 60, 120, 240, 360, 480, 720, 960, 1200, 1440)
)


@dataclass(frozen=True, slots=True)
class WarSnapshot:
    """A war as one reading of the API shows it, from the tracked clan's side.

    A war is identified by the clan, the opponent and the preparation start;
    a CWL round war also has its war tag. ``attacks_per_member`` is 1 in CWL
    (its payload carries none).
    """

    clan_tag: str
    clan_name: str
    opponent_tag: str
    opponent_name: str
    state: str  # "preparation", "inWar" or "warEnded"
    preparation_start: datetime
    start_time: datetime
    end_time: datetime
    team_size: int
    attacks_per_member: int
    clan_stars: int
    clan_destruction: float
    clan_attacks: int
    opponent_stars: int
    opponent_destruction: float
    opponent_attacks: int
    members: tuple[WarMember, ...]
    attacks: tuple[WarAttack, ...]
    war_tag: str | None = None
    league_season: str | None = None
    cwl_round: int | None = None

    @property
    def is_cwl(self) -> bool:
        return self.war_tag is not None

    @property
    def is_friendly(self) -> bool:
        """A friendly war: its preparation is one of the lengths a friendly challenge
        offers (a clan war's is 23 hours). coc.py's ``ClanWar.type`` uses the same list,
        though its check never matches 24 hours; migration 0006 uses it too."""
        if self.war_tag is not None:
            return False
        return (self.start_time - self.preparation_start).total_seconds() in FRIENDLY_PREPARATIONS


# -- clan games --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GamesState:
    """A player's clan games memory: the "Games Champion" achievement at the last full
    profile (``value``, read at ``read_at`` in clan ``clan_tag``), and the points
    already credited in the month of the reading at hand (``month_points``, in every
    clan) and whether that month's maximum was reached."""

    value: int | None
    read_at: datetime | None
    clan_tag: str | None
    month_points: int = 0
    maxed: bool = False


# -- raid weekends -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RaidMember:
    tag: str
    name: str
    attacks: int
    attack_limit: int
    bonus_attack_limit: int
    looted: int


@dataclass(frozen=True, slots=True)
class RaidWeekend:
    """One item of a clan's ``/capitalraidseasons``."""

    clan_tag: str
    state: str  # "ongoing" or "ended"
    start_time: datetime
    end_time: datetime
    capital_total_loot: int
    raids_completed: int
    total_attacks: int
    districts_destroyed: int
    offensive_reward: int
    defensive_reward: int
    members: tuple[RaidMember, ...]

    @property
    def ended(self) -> bool:
        return self.state != "ongoing"


# -- ranked battles --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Battle:
    """One entry of a player's battle log. The API gives no id and no time:
    ``fingerprint`` (a hash of the whole entry) is what consecutive logs are aligned by."""

    fingerprint: str
    battle_type: str
    attack: bool
    opponent_tag: str
    stars: int
    destruction: int
    gold: int
    elixir: int
    dark_elixir: int
    army_share_code: str | None


@dataclass(frozen=True, slots=True)
class LeagueWeek:
    """One past ranked week of the league history."""

    season_id: int
    tier_id: int
    placement: int | None
    league_trophies: int
    attack_wins: int
    attack_losses: int
    attack_stars: int
    defense_wins: int
    defense_losses: int
    defense_stars: int
    max_battles: int | None


@dataclass(frozen=True, slots=True)
class RoleMapping:
    """One mapped role: members whose accounts match ``kind``/``value`` get ``role_id``."""

    kind: str
    value: str
    role_id: int
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class LinkedAccount:
    """A member's linked account as the database holds it (no profile: never read)."""

    tag: str
    verified: bool
    linked_at: datetime
    name: str | None = None
    town_hall: int | None = None
    # The league tier the last full profile showed (None: not known yet).
    league: str | None = None
    clan_tag: str | None = None
    clan_name: str | None = None
    clan_role: str | None = None


@dataclass(frozen=True, slots=True)
class RoleConfig:
    """A guild's role sync settings: its mapped roles and nickname format."""

    guild_id: int
    mappings: tuple[RoleMapping, ...] = ()
    nickname_format: str | None = None
    owner_noted: bool = False
    nickname_problem: str | None = None
    # Only verified links count in a guild that accepts only verified links.
    verified_only: bool = False
    # The clans the guild tracks: a clan mapping of a clan no longer tracked is skipped
    # (its members' data is no longer kept current).
    tracked_clans: frozenset[str] = frozenset()
