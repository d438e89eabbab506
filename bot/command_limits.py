"""Discord's limits on application commands, checked before a sync.

discord.py checks names and counts locally but not description lengths,
lower-case option names, choice counts or the 4,000-character total (as of
discord.py 2.7); Discord would reject those at sync time, after start-up.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

NAME_RE = re.compile(r"^[-_\w]{1,32}$")
SUBCOMMAND_TYPES = {1, 2}


def _check_name(where: str, name: Any, problems: list[str]) -> None:
    if not isinstance(name, str) or not NAME_RE.fullmatch(name) or name != name.lower():
        problems.append(f"{where}: name {name!r} must be 1-32 lower-case word characters")


def _check_description(where: str, text: Any, problems: list[str]) -> None:
    if not isinstance(text, str) or not 1 <= len(text) <= 100:
        problems.append(f"{where}: description must be 1-100 characters, got {text!r}")


def _option_chars(option: Mapping[str, Any]) -> int:
    total = len(option.get("name", "")) + len(option.get("description", ""))
    for choice in option.get("choices") or ():
        total += len(str(choice.get("name", ""))) + len(str(choice.get("value", "")))
    for sub in option.get("options") or ():
        total += _option_chars(sub)
    return total


def _check_options(where: str, options: list[Mapping[str, Any]], problems: list[str]) -> None:
    if len(options) > 25:
        problems.append(f"{where}: {len(options)} options, at most 25 allowed")
    seen_optional = False
    names: set[str] = set()
    for option in options:
        here = f"{where} {option.get('name')}"
        _check_name(here, option.get("name"), problems)
        _check_description(here, option.get("description"), problems)
        if option.get("name") in names:
            problems.append(f"{here}: duplicate option name")
        names.add(option.get("name", ""))
        choices = option.get("choices") or ()
        if len(choices) > 25:
            problems.append(f"{here}: {len(choices)} choices, at most 25 allowed")
        for choice in choices:
            if not 1 <= len(str(choice.get("name", ""))) <= 100:
                problems.append(f"{here}: choice name {choice.get('name')!r} must be 1-100 chars")
        if option.get("type") in SUBCOMMAND_TYPES:
            _check_options(here, list(option.get("options") or ()), problems)
        elif option.get("required"):
            if seen_optional:
                problems.append(f"{here}: a required option follows an optional one")
        else:
            seen_optional = True


def check_commands(payload: Iterable[Mapping[str, Any]]) -> list[str]:
    """Every limit the command payload breaks (empty when Discord will accept it)."""
    problems: list[str] = []
    commands = list(payload)
    chat = [c for c in commands if c.get("type", 1) == 1]
    if len(chat) > 100:
        problems.append(f"{len(chat)} slash commands, at most 100 allowed")
    for command in commands:
        where = f"/{command.get('name')}"
        _check_name(where, command.get("name"), problems)
        if command.get("type", 1) == 1:
            _check_description(where, command.get("description"), problems)
        options = list(command.get("options") or ())
        _check_options(where, options, problems)
        total = len(command.get("name", "")) + len(command.get("description", ""))
        total += sum(_option_chars(o) for o in options)
        if total > 4000:
            problems.append(f"{where}: {total} characters in all, at most 4,000 allowed")
    return problems
