#!/usr/bin/env bash
# The Docker proof: make sure a Docker daemon runs here, then run tests/docker.
#
#   bash .ci/docker.sh             install/start the daemon if needed, run the proof
#   bash .ci/docker.sh --daemon    only install/start the daemon (for a developer)
#
# Idempotent. As root on Debian it installs docker.io, docker-compose and
# debootstrap from Debian's mirror, and starts `dockerd` with no bridge and no
# iptables rules: test containers use host networking and talk over loopback
# only. Without root, or where no daemon can be had, the test skips and says why.
#
# Environment:
#   PYTHON          the interpreter with the project and its test extra installed
#                   (default: python, else python3)
#   KEEP_DOCKERD=1  leave a daemon this script started running afterwards
#   DOCKERD_LOG     where the daemon's log goes (default /var/log/cocbot-dockerd.log)
set -euo pipefail

cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-$(command -v python || command -v python3)}
DOCKERD_LOG=${DOCKERD_LOG:-/var/log/cocbot-dockerd.log}
started_pid=""

log() { printf '[docker.sh] %s\n' "$*" >&2; }

have_daemon() { docker info >/dev/null 2>&1; }

install_packages() {
    local missing=()
    command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
    command -v docker-compose >/dev/null 2>&1 || docker compose version >/dev/null 2>&1 \
        || missing+=(docker-compose)
    command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
    if [ ${#missing[@]} -eq 0 ]; then
        return 0
    fi
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        log "cannot install ${missing[*]}: not root on a Debian system"
        return 1
    fi
    log "installing ${missing[*]} from Debian's packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

start_daemon() {
    if have_daemon; then
        log "a Docker daemon is already running"
        return 0
    fi
    if [ "$(id -u)" -ne 0 ]; then
        log "no Docker daemon, and not root: cannot start one"
        return 1
    fi
    install_packages || return 1
    log "starting dockerd --bridge=none --iptables=false (log: $DOCKERD_LOG)"
    # setsid: the daemon gets its own session, so it outlives a terminal and is
    # stopped below by its own pid only.
    setsid dockerd --bridge=none --iptables=false --ip-masq=false \
        >"$DOCKERD_LOG" 2>&1 </dev/null &
    started_pid=$!
    for _ in $(seq 1 120); do
        if have_daemon; then
            log "dockerd is up (pid $started_pid)"
            return 0
        fi
        if ! kill -0 "$started_pid" 2>/dev/null; then
            log "dockerd exited; the end of its log:"
            tail -n 30 "$DOCKERD_LOG" >&2 || true
            started_pid=""
            return 1
        fi
        sleep 0.5
    done
    log "dockerd did not answer within 60 s"
    return 1
}

stop_daemon() {
    if [ -n "$started_pid" ] && [ "${KEEP_DOCKERD:-0}" != 1 ]; then
        log "stopping the dockerd this script started (pid $started_pid)"
        kill -TERM "$started_pid" 2>/dev/null || true
        for _ in $(seq 1 60); do
            kill -0 "$started_pid" 2>/dev/null || return 0
            sleep 0.5
        done
        log "dockerd did not stop within 30 s"
    fi
}

if ! start_daemon; then
    log "no Docker daemon can be had here: tests/docker will skip and say why"
fi

if [ "${1:-}" = "--daemon" ]; then
    KEEP_DOCKERD=1
    exit 0
fi

trap stop_daemon EXIT
"$PYTHON" -m pytest tests/docker -m docker -p no:cacheprovider -rs -v -s "$@"
