"""Which mapped roles a member's accounts give, and what a sync changes."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from bot.roles.rules import league_rank, matches, plan, wanted_roles
from db.model import LinkedAccount, RoleMapping

T0 = datetime(2026, 11, 1, tzinfo=UTC)
TIERS = league_rank({105000033: "Electro League 33", 105000034: "Legend League",
                     105000021: "Golem League 21"})  # fmt: skip


def account(tag: str = "#P1", **kw: object) -> LinkedAccount:
    return LinkedAccount(tag=tag, verified=bool(kw.pop("verified", False)), linked_at=T0, **kw)  # type: ignore[arg-type]


MAPS = (
    RoleMapping("town_hall", "16", 16),
    RoleMapping("town_hall", "17", 17),
    RoleMapping("league", "Legend League", 100),
    RoleMapping("league", "Golem League 21", 101),
    RoleMapping("clan", "#CLANA", 200),
    RoleMapping("clan", "#CLANB", 201),
    RoleMapping("clan_leader", "#CLANA", 300),
    RoleMapping("clan_coleader", "#CLANA", 301),
    RoleMapping("clan_elder", "#CLANA", 302),
    RoleMapping("verified", "", 400),
)


def test_highest_town_hall_and_league_only_every_clan_and_rank() -> None:
    accounts = [
        account("#A", town_hall=16, league="Golem League 21", clan_tag="#CLANA", clan_role="admin"),
        account("#B", town_hall=17, league="legend league", clan_tag="#CLANB", clan_role="leader"),
    ]
    # TH17 only (not 16); Legend only (not Golem); both clans; elder of A, not leader of A
    # (the leader rank is in clan B, which maps no leader role); not verified.
    assert wanted_roles(accounts, MAPS, TIERS) == {17, 100, 200, 201, 302}


def test_highest_town_hall_unmapped_gives_no_lower_one() -> None:
    assert wanted_roles([account(town_hall=18), account("#B", town_hall=16)], MAPS, TIERS) == set()


def test_unknown_league_name_and_unread_account_give_nothing_but_verified() -> None:
    accounts = [account(league="Crystal League I", verified=True), account("#B")]
    assert wanted_roles(accounts, MAPS, TIERS) == {400}


def test_ranks_are_exact() -> None:
    for rank, role in (("leader", 300), ("coLeader", 301), ("admin", 302), ("member", None)):
        got = wanted_roles([account(clan_tag="#CLANA", clan_role=rank)], MAPS, TIERS)
        assert got == ({200, role} if role else {200})


def test_one_role_for_two_values_is_kept_while_either_matches() -> None:
    maps = (RoleMapping("town_hall", "17", 9), RoleMapping("clan", "#CLANA", 9))
    assert wanted_roles([account(town_hall=16, clan_tag="#CLANA")], maps, TIERS) == {9}


role_ids = st.frozensets(st.integers(1, 12))


@given(current=role_ids, wanted=role_ids, managed=role_ids, skipped=role_ids)
def test_plan_touches_only_managed_roles_and_reaches_the_wanted_ones(
    current: frozenset[int],
    wanted: frozenset[int],
    managed: frozenset[int],
    skipped: frozenset[int],
) -> None:
    todo = plan(current, wanted, managed, skipped)
    touchable = managed - skipped
    assert todo.add <= touchable and todo.remove <= touchable
    assert not todo.add & current and todo.remove <= current
    after = (current | todo.add) - todo.remove
    # Unmanaged and skipped roles are exactly as they were; managed ones are as wanted.
    assert after - touchable == current - touchable
    assert after & touchable == wanted & touchable
    # Once applied, nothing is left to do: a member already right costs no call.
    assert not plan(after, wanted, managed, skipped)


def test_matches_names_the_values_as_stored() -> None:
    got = matches([account(town_hall=9, clan_tag="#CLANA", verified=True)], TIERS)
    assert got == {("town_hall", "9"), ("clan", "#CLANA"), ("verified", "")}


def test_changes_made_count_until_the_cache_shows_them() -> None:
    from types import SimpleNamespace

    from bot.roles.member_sync import RecentChanges

    role = SimpleNamespace
    member = SimpleNamespace(id=1, guild=SimpleNamespace(id=2), roles=[role(id=5)])
    recent = RecentChanges(ttl=60)
    recent.record(member, 6, added=True)  # type: ignore[arg-type]
    recent.record(member, 5, added=False)  # type: ignore[arg-type]
    assert recent.held(member) == {6}  # type: ignore[arg-type]
    recent.record(member, 6, added=False)  # type: ignore[arg-type]
    assert recent.held(member) == set()  # type: ignore[arg-type]
    # Discord's update shows the change: from then on the cache is the truth, also for a
    # role someone takes away by hand afterwards.
    confirmed = RecentChanges(ttl=60)
    confirmed.record(member, 6, added=True)  # type: ignore[arg-type]
    member.roles = [role(id=5), role(id=6)]
    confirmed.confirm(member)  # type: ignore[arg-type]
    member.roles = [role(id=5)]
    assert confirmed.held(member) == {5}  # type: ignore[arg-type]
    stale = RecentChanges(ttl=-1)
    stale.record(member, 6, added=True)  # type: ignore[arg-type]
    assert stale.held(member) == {5}  # type: ignore[arg-type]
