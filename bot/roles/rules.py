"""Which mapped roles a member should hold: pure rules over their linked accounts.

A member's roles come from all their linked accounts: the Town Hall role of their
highest Town Hall only, the league role of their highest league only, a role for
every clan an account is in, the rank role of each clan an account holds that rank
in, and the verified role for holding a verified link. Only mapped roles are ever
added or removed; every other role of the member is left alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from db.model import LinkedAccount, RoleMapping

KINDS: dict[str, str] = {
    "town_hall": "Town Hall level (1 to 18)",
    "league": "league tier (its name)",
    "clan": "member of a tracked clan (its tag)",
    "clan_leader": "leader of a clan (its tag)",
    "clan_coleader": "co-leader of a clan (its tag)",
    "clan_elder": "elder of a clan (its tag)",
    "verified": "holds a verified link",
}
CLAN_KINDS = ("clan", "clan_leader", "clan_coleader", "clan_elder")
# The API's names of clan ranks ("admin" is an elder).
RANK_OF_KIND = {"clan_leader": "leader", "clan_coleader": "coLeader", "clan_elder": "admin"}
MAX_TOWN_HALL = 18


@dataclass(frozen=True, slots=True)
class RolePlan:
    add: frozenset[int]
    remove: frozenset[int]

    def __bool__(self) -> bool:
        return bool(self.add or self.remove)


def league_rank(tiers: Mapping[int, str]) -> dict[str, int]:
    """League names (lower case) to their rank: a higher tier id is a higher league."""
    return {name.lower(): tier for tier, name in tiers.items()}


def counted(accounts: Iterable[LinkedAccount], verified_only: bool) -> list[LinkedAccount]:
    """The accounts that count in a guild (only verified ones where it requires them)."""
    return [a for a in accounts if a.verified or not verified_only]


def matches(
    accounts: Sequence[LinkedAccount], league_rank: Mapping[str, int]
) -> set[tuple[str, str]]:
    """The (kind, value) pairs these accounts give, values as they are stored."""
    found: set[tuple[str, str]] = set()
    halls = [a.town_hall for a in accounts if a.town_hall]
    if halls:
        found.add(("town_hall", str(max(halls))))
    ranked = [(league_rank[a.league.lower()], a.league) for a in accounts
              if a.league and a.league.lower() in league_rank]  # fmt: skip
    if ranked:
        found.add(("league", max(ranked)[1].lower()))
    for a in accounts:
        if a.clan_tag:
            found.add(("clan", a.clan_tag))
            for kind, rank in RANK_OF_KIND.items():
                if a.clan_role == rank:
                    found.add((kind, a.clan_tag))
    if any(a.verified for a in accounts):
        found.add(("verified", ""))
    return found


def wanted_roles(
    accounts: Sequence[LinkedAccount],
    mappings: Iterable[RoleMapping],
    league_rank: Mapping[str, int],
) -> set[int]:
    have = matches(accounts, league_rank)
    return {m.role_id for m in mappings if (m.kind, _key(m)) in have}


def _key(mapping: RoleMapping) -> str:
    # League names are matched without case; everything else is stored canonical.
    return mapping.value.lower() if mapping.kind == "league" else mapping.value


def plan(
    current: Iterable[int],
    wanted: Iterable[int],
    managed: Iterable[int],
    skipped: Iterable[int] = (),
) -> RolePlan:
    """What to add and remove: only managed roles, never the skipped ones (roles the
    bot cannot assign right now)."""
    held, want, skip = set(current), set(wanted), set(skipped)
    mine = set(managed) - skip
    return RolePlan(
        add=frozenset((want & mine) - held),
        remove=frozenset((held & mine) - want),
    )
