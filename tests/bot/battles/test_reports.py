"""The /ranked and /battles texts, without Discord."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.battles.ranked_report import RankedReport, _lines_within, ranked_embed
from bot.battles.report import battle_line
from bot.battles.weeks import results
from db.model import LeagueWeek, PlayerProfile

WEEK = 1773032400


def profile(tier: int | None) -> PlayerProfile:
    return PlayerProfile(
        tag="#8QQ", name="Ann", town_hall=16, exp_level=200, trophies=800, best_trophies=6000,
        war_stars=1, attack_wins=0, defense_wins=0, donations=0, donations_received=0,
        builder_trophies=0, best_builder_trophies=0, builder_hall=10, capital_contributions=0,
        league=None, clan_tag=None, clan_name=None, role=None, league_tier_id=tier,
        league_season_id=WEEK + 8 * 604800,
    )  # fmt: skip


def test_the_last_weeks_are_whole_lines_within_a_field() -> None:
    weeks = [
        LeagueWeek(WEEK + i * 604800, 105000030 + i % 3, 100 + i, 1174, 24, 0, 0, 0, 0, 0, 30)
        for i in range(8)
    ]
    # No tier names known (the tier list could not be read): long fallbacks.
    report = RankedReport(profile(105000032), {}, results(weeks, 105000032), None, True)
    text = _lines_within(report)
    assert len(text) <= 1024
    assert all(line.endswith(("stars", "league tier 105000031", "league tier 105000032",
                              "league tier 105000030")) for line in text.splitlines())  # fmt: skip
    assert len(ranked_embed(report).fields) == 3


def test_an_unranked_player_whose_history_cannot_be_read_is_not_said_never_to_have_played() -> None:
    report = RankedReport(profile(105000000), {}, [], None, False)
    embed = ranked_embed(report)
    assert embed.description != "This player has not played ranked battles yet."
    last = {f.name: f.value for f in embed.fields}["Last weeks"]
    assert last.startswith("The league history cannot be read now")
    live = ranked_embed(RankedReport(profile(105000000), {}, [], None, True))
    assert live.description == "This player has not played ranked battles yet."


def test_an_unknown_battle_type_is_shown_as_text() -> None:
    row = {
        "battle_type": "weird_*type*_<@&123456789012345678>", "attack": True,
        "opponent_tag": "#2PP", "stars": 1, "destruction": 50, "gold": 1, "elixir": 2,
        "dark_elixir": 3,
        "window_end": datetime(2026, 11, 20, tzinfo=UTC),
    }  # fmt: skip
    line = battle_line(row)
    assert "<@&123456789012345678>" not in line and "\\*type\\*" in line
