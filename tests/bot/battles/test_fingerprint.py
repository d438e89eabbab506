"""A battle's fingerprint never changes for the same entry: the stored battles are
matched by it, so a new text for an old battle would store it twice.

``reference`` is the fingerprint as first shipped (issue 10), kept here verbatim;
the product's faster one must agree with it on every entry the API can send.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bot.battles.parse import fingerprint
from tests.fakes.coc_api import load_payload

# As first shipped, copied rather than imported: a change in the product's must fail here.
IDENTITY = ("battleType", "attack", "opponentPlayerTag", "armyShareCode", "stars",
            "destructionPercentage")  # fmt: skip
RESOURCE_LISTS = ("lootedResources", "extraLootedResources", "availableLoot")
LOOT_NAMES = {"Gold": "gold", "Elixir": "elixir", "DarkElixir": "dark_elixir"}


def _reference_resources(value: Any) -> str:
    if not isinstance(value, list):
        return ""
    amounts = {r.get("name"): r.get("amount") for r in value if isinstance(r, Mapping)}
    return ",".join(f"{amounts.get(name)}" for name in LOOT_NAMES)


def reference(entry: Mapping[str, Any]) -> str:
    parts = [repr(entry.get(key)) for key in IDENTITY]
    parts += [_reference_resources(entry.get(key)) for key in RESOURCE_LISTS]
    return hashlib.blake2b("|".join(parts).encode(), digest_size=12).hexdigest()


names = st.sampled_from(["Gold", "Elixir", "DarkElixir", "Capital Gold", "Star Bonus", ""])
amounts = st.one_of(st.none(), st.integers(-5, 10**7), st.booleans(), st.floats(0, 1e6))
resource = st.one_of(
    st.fixed_dictionaries({"name": names, "amount": amounts}),
    st.fixed_dictionaries({"name": names}),
    st.fixed_dictionaries({"amount": amounts}),
    st.integers(),
    st.text(max_size=3),
)
resources = st.one_of(st.lists(resource, max_size=8), st.none(), st.text(max_size=3), st.integers())
entries = st.fixed_dictionaries(
    {},
    optional={
        "battleType": st.sampled_from(["homeVillage", "legend", "ranked", "unknown"]),
        "attack": st.booleans(),
        "opponentPlayerTag": st.text(max_size=10),
        "armyShareCode": st.one_of(st.none(), st.text(max_size=20)),
        "stars": st.integers(0, 3),
        "destructionPercentage": st.one_of(st.integers(0, 100), st.floats(0, 100)),
        "lootedResources": resources,
        "extraLootedResources": resources,
        "availableLoot": resources,
    },
)


@given(entries)
def test_the_fingerprint_is_the_one_first_shipped(entry: dict[str, Any]) -> None:
    assert fingerprint(entry) == reference(entry)


def test_recorded_battles_keep_their_fingerprints() -> None:
    items = load_payload("recorded/players_battlelog_log")["body"]["items"]
    # Computed by the first version (commit 148870a and before).
    assert fingerprint(items[0]) == "37e1ad155a5439cd3981aac9"
    assert fingerprint({}) == "1cdd7b5cd727ba96fba73895"
    assert len(items) == 50
    for entry in items:
        assert fingerprint(entry) == reference(entry)
    assert len({fingerprint(e) for e in items}) > 40  # they tell battles apart
