from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[2]
VALID = {"DISCORD_TOKEN": "discord-secret-abc", "COC_TOKENS": "coc-secret-1,coc-secret-2"}


def test_valid_minimal_settings_have_defaults() -> None:
    s = load_settings(VALID)
    assert s.discord_token.get() == "discord-secret-abc"
    assert [t.get() for t in s.coc_tokens] == ["coc-secret-1", "coc-secret-2"]
    assert s.pool_close_timeout == 3.0 and s.db_command_timeout == 60.0
    assert s.database_url is None and s.data_dir == Path("data")


def test_settings_are_frozen() -> None:
    s = load_settings(VALID)
    with pytest.raises(AttributeError):
        s.discord_token = None  # type: ignore[misc]


def test_secrets_never_show_in_repr() -> None:
    s = load_settings(
        {
            **VALID,
            "COC_EMAIL": "me@example.org",
            "COC_PASSWORD": "hunter2-password",
            "DATABASE_URL": "postgresql://bot:db-pass-xyz@db:5432/bot",
        }
    )
    text = repr(s) + str(s)
    for secret in ("discord-secret-abc", "coc-secret-1", "hunter2-password", "db-pass-xyz"):
        assert secret not in text
    assert set(s.secret_values()) >= {"discord-secret-abc", "hunter2-password", "db-pass-xyz"}


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"COC_TOKENS": "x"}, ["DISCORD_TOKEN"]),
        ({"DISCORD_TOKEN": "   ", "COC_TOKENS": "x"}, ["DISCORD_TOKEN"]),
        ({"DISCORD_TOKEN": "x"}, ["COC_TOKENS"]),
        ({"DISCORD_TOKEN": "x", "COC_EMAIL": "a@b.c"}, ["COC_PASSWORD"]),
        ({"DISCORD_TOKEN": "x", "COC_PASSWORD": "p"}, ["COC_EMAIL"]),
        ({**VALID, "DISCORD_GUILD_ID": "12ab"}, ["DISCORD_GUILD_ID"]),
        ({**VALID, "POOL_CLOSE_TIMEOUT": "soon"}, ["POOL_CLOSE_TIMEOUT"]),
        ({**VALID, "TRACK_INTERVAL_SECONDS": "0"}, ["TRACK_INTERVAL_SECONDS"]),
        ({**VALID, "TRACK_INTERVAL_SECONDS": "-5"}, ["TRACK_INTERVAL_SECONDS"]),
        ({**VALID, "COC_KEY_COUNT": "11"}, ["COC_KEY_COUNT"]),
        ({**VALID, "POOL_MIN_SIZE": "20", "POOL_MAX_SIZE": "5"}, ["POOL_MIN_SIZE"]),
        ({**VALID, "COC_API_BASE_URL": "ftp://x"}, ["COC_API_BASE_URL"]),
        ({**VALID, "COC_API_BASE_URL": "http://"}, ["COC_API_BASE_URL"]),
        ({**VALID, "DISCORD_API_BASE_URL": "not a url"}, ["DISCORD_API_BASE_URL"]),
        ({**VALID, "DATABASE_URL": "mysql://a:b@c/d"}, ["DATABASE_URL"]),
        ({**VALID, "DATABASE_URL": "postgresql://h:notaport/d"}, ["DATABASE_URL"]),
        ({**VALID, "LOG_LEVEL": "loud"}, ["LOG_LEVEL"]),
        ({**VALID, "SHARD_COUNT": "0"}, ["SHARD_COUNT"]),
        ({**VALID, "SHARD_COUNT": "10001"}, ["SHARD_COUNT"]),
        ({**VALID, "SHARD_COUNT": "four"}, ["SHARD_COUNT"]),
        ({**VALID, "SHARD_IDS": "0,1"}, ["SHARD_COUNT"]),
        ({**VALID, "SHARD_COUNT": "4", "SHARD_IDS": "0,x"}, ["SHARD_IDS"]),
        ({**VALID, "SHARD_COUNT": "4", "SHARD_IDS": "3,4"}, ["SHARD_IDS"]),
        ({**VALID, "SHARD_COUNT": "4", "SHARD_IDS": "-1"}, ["SHARD_IDS"]),
        ({**VALID, "SHARD_COUNT": "4", "SHARD_IDS": "1,2,1"}, ["SHARD_IDS"]),
        (
            {"DISCORD_GUILD_ID": "x", "POOL_MAX_SIZE": "y"},
            ["DISCORD_TOKEN", "COC_TOKENS", "DISCORD_GUILD_ID", "POOL_MAX_SIZE"],
        ),
    ],
)
def test_every_problem_is_named_in_one_message(env: dict[str, str], named: list[str]) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(env)
    message = str(info.value)
    for name in named:
        assert name in message
    assert len(info.value.problems) == len(named)
    assert ".env.example" in message


def test_shards_are_optional_and_read_as_given() -> None:
    unsharded = load_settings(VALID)
    assert unsharded.shard_count is None and unsharded.shard_ids is None
    every = load_settings({**VALID, "SHARD_COUNT": "4"})
    assert every.shard_count == 4 and every.shard_ids is None  # all four in this process
    some = load_settings({**VALID, "SHARD_COUNT": "4", "SHARD_IDS": " 2, 3 "})
    assert some.shard_count == 4 and some.shard_ids == (2, 3)
    blank = load_settings({**VALID, "SHARD_COUNT": "", "SHARD_IDS": ""})
    assert blank.shard_count is None and blank.shard_ids is None


def test_uvloop_is_on_unless_turned_off() -> None:
    assert load_settings(VALID).use_uvloop is True
    assert load_settings({**VALID, "UVLOOP": "false"}).use_uvloop is False
    with pytest.raises(SettingsError, match="UVLOOP must be true or false"):
        load_settings({**VALID, "UVLOOP": "sometimes"})


def test_shard_ids_without_a_count_say_what_to_set() -> None:
    with pytest.raises(SettingsError) as info:
        load_settings({**VALID, "SHARD_IDS": "0,1"})
    (problem,) = info.value.problems
    assert "SHARD_IDS is set without SHARD_COUNT" in problem
    with pytest.raises(SettingsError) as info:
        load_settings({**VALID, "SHARD_COUNT": "2", "SHARD_IDS": "1,2"})
    (problem,) = info.value.problems
    assert "from 0 to 1" in problem and problem.endswith("got 2")


def test_database_password_is_not_echoed_in_the_problem() -> None:
    with pytest.raises(SettingsError) as info:
        load_settings({**VALID, "DATABASE_URL": "mysql://u:s3cret-pw@h/d"})
    assert "s3cret-pw" not in str(info.value)


def _run(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "COC_"))}
    base.pop("DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "bot"],
        env={**base, **env, "PYTHONPATH": str(ROOT)},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_empty_discord_token_exits_2_naming_it(tmp_path: Path) -> None:
    result = _run({"DISCORD_TOKEN": "", "COC_TOKENS": "x"}, tmp_path)
    assert result.returncode == 2
    assert "DISCORD_TOKEN" in result.stderr and ".env.example" in result.stderr
    assert "Traceback" not in result.stderr


def test_dotenv_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DISCORD_TOKEN=from-file\nCOC_TOKENS=\nPOOL_MAX_SIZE=abc\n")
    result = _run({"COC_TOKENS": "from-env"}, tmp_path)
    assert result.returncode == 2
    # DISCORD_TOKEN came from .env, COC_TOKENS from the environment: one problem left.
    assert "POOL_MAX_SIZE" in result.stderr
    assert "DISCORD_TOKEN" not in result.stderr and "COC_TOKENS" not in result.stderr
