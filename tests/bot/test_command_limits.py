from __future__ import annotations

from bot.command_limits import check_commands


def command(**kw: object) -> dict:
    return {"name": "player", "description": "Show a player", "type": 1, "options": [], **kw}


def option(name: str = "tag", **kw: object) -> dict:
    return {"type": 3, "name": name, "description": "A tag", "required": True, **kw}


def test_a_valid_command_passes() -> None:
    assert check_commands([command(options=[option()])]) == []


def test_each_limit_is_reported() -> None:
    cases = [
        command(description="x" * 101),
        command(description=""),
        command(name="Player"),
        command(options=[option(name="Tag")]),
        command(options=[option(description="d" * 101)]),
        command(options=[option(f"o{i}", required=False) for i in range(26)]),
        command(options=[option(choices=[{"name": f"c{i}", "value": i} for i in range(26)])]),
        command(options=[option("a", required=False), option("b")]),
        command(
            options=[
                option(f"o{i}", choices=[{"name": "c" * 20, "value": "v" * 20}] * 25)
                for i in range(10)
            ]
        ),
    ]
    for case in cases[:-1]:
        assert check_commands([case]), case
    # 10 options x 25 choices x 40 characters exceeds 4,000.
    assert any("4,000" in p for p in check_commands([cases[-1]]))
