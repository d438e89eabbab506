"""A reminder for a 50-member war names and pings every linked member with attacks left,
in as many messages of at most 2000 characters as it takes. (Review: the text was cut
with "… and N more", and those members were never pinged.)"""

from __future__ import annotations

from datetime import UTC, datetime

from bot.wars.reminders import reminder_messages


def test_every_linked_member_with_attacks_left_is_mentioned() -> None:
    war = {
        "war_tag": None,
        "opponent_name": "Altar of Minis",
        "end_time": datetime(2026, 3, 20, tzinfo=UTC),
    }
    members = [
        {
            "left_": 2,
            "user_id": 300000000000000000 + i,
            "name": f"Player_{i:02d}__x",
            "town_hall": 16,
            "tag": f"#P{i:02d}",
        }
        for i in range(50)
    ]
    parts = reminder_messages(war, members)
    assert len(parts) > 1 and all(len(p.text) <= 2000 for p in parts)
    users = [u for p in parts for u in p.users]
    assert sorted(users) == [300000000000000000 + i for i in range(50)]
    assert [t for p in parts for t in p.tags] == [f"#P{i:02d}" for i in range(50)]
    assert parts[0].text.startswith("⚔️") and parts[1].text.startswith("(continued)")
