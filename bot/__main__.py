"""``python -m bot [run | tracker | check | healthcheck]``."""

from __future__ import annotations

import signal
import sys
from types import FrameType

USAGE = """usage: python -m bot [command]

commands:
  run          start the Discord bot (with a tracker inside it); the default
  tracker      run a tracker alone, without a Discord connection
  check        check settings, database, Clash of Clans and Discord credentials
  healthcheck  exit 0 if the running bot wrote a fresh heartbeat (for Docker)
"""


def _stopped_before_start(signum: int, frame: FrameType | None) -> None:
    # Still importing or reading settings: nothing runs yet, so nothing to close.
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    command = args[0] if args else "run"
    if command in {"-h", "--help", "help"}:
        print(USAGE)
        return 0
    if command not in {"run", "tracker", "check", "healthcheck"} or len(args) > 1:
        print(USAGE, file=sys.stderr)
        return 2
    if command in {"run", "tracker"}:
        # Until the event loop takes the signals over (bot.lifecycle), a stop ends the
        # process at once and quietly, with status 0 like any stop.
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, _stopped_before_start)

    from bot.settings import SettingsError, load_settings

    if command == "healthcheck":
        from bot.health import heartbeat_path, is_fresh
        from bot.settings import data_dir_from_env

        return 0 if is_fresh(heartbeat_path(data_dir_from_env())) else 1

    try:
        settings = load_settings()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2

    from bot.logs import configure_logging

    configure_logging(settings.log_level, settings.secret_values())

    from bot.runtime import run, tune_gc

    if command == "check":
        from bot.check import run_checks

        return run(run_checks(settings), fast=settings.use_uvloop)
    if command == "tracker":
        from bot.tracker.service import run_tracker as entry
    else:
        from bot.app import run_bot as entry
    # After the imports: the start-up heap tune_gc freezes is the whole program.
    tune_gc()
    return run(entry(settings), fast=settings.use_uvloop)


if __name__ == "__main__":
    sys.exit(main())
