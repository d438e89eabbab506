#!/usr/bin/env bash
# Build local stand-ins for the two official base images the project uses,
# from Debian's packages, for machines that reach no image registry (CI here).
#
#   docker/standin/build.sh      builds what is missing, then prints
#                                PYTHON_IMAGE=... and POSTGRES_IMAGE=...
#
#   base      debootstrap --variant=minbase bookworm, imported with docker import
#   python    stands in for python:3.12-slim: Debian's python3 (3.11), venv, pip
#   postgres  stands in for postgres:17: Debian's postgresql-15 behind an
#             entry point that honours POSTGRES_USER/POSTGRES_PASSWORD/
#             POSTGRES_DB/PGDATA/PGPORT and /docker-entrypoint-initdb.d like the
#             official image
#
# Cached: the debootstrap tarball under $STANDIN_CACHE (default
# /var/cache/cocbot-docker), and each image under a tag that carries a hash of
# its build files, so an image that exists is never rebuilt and a changed build
# file gives a new tag. Needs root (debootstrap) only when the base is missing.
# The build steps reach Debian's mirror through the host network.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${STANDIN_CACHE:-/var/cache/cocbot-docker}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=bookworm

log() { printf '[standin] %s\n' "$*" >&2; }
exists() { docker image inspect "$1" >/dev/null 2>&1; }

base_image="cocbot-standin/debian:${suite}-minbase"

build_base() {
    if exists "$base_image"; then
        log "$base_image: present"
        return
    fi
    local tarball="$cache/debian-${suite}-minbase.tar"
    if [ ! -s "$tarball" ]; then
        command -v debootstrap >/dev/null || {
            log "debootstrap is missing: apt-get install debootstrap"
            exit 1
        }
        mkdir -p "$cache"
        local root
        root=$(mktemp -d "$cache/rootfs.XXXXXX")
        log "debootstrap --variant=minbase $suite from $mirror (about a minute)"
        debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$cache/debootstrap.log" 2>&1 || {
            tail -n 20 "$cache/debootstrap.log" >&2
            rm -rf "$root"
            exit 1
        }
        # Like the official Debian images: no package caches, no recommends.
        rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
        printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
            >"$root/etc/apt/apt.conf.d/90-standin-no-recommends"
        tar -C "$root" -cf "$tarball.tmp" .
        mv "$tarball.tmp" "$tarball"
        rm -rf "$root"
    else
        log "using the cached $tarball"
    fi
    log "docker import -> $base_image"
    docker import --change 'CMD ["bash"]' --change 'ENV LANG=C.UTF-8' \
        "$tarball" "$base_image" >/dev/null
}

# A tag from the content of a build directory (and the base it starts from).
content_tag() {
    (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum; echo "$base_image") \
        | sha256sum | cut -c1-12
}

build_image() {  # name directory
    local name=$1 dir=$2 ctx
    ctx=$(mktemp -d)
    cp -a "$dir/." "$ctx/"
    if [ "$name" = python ]; then
        # This machine's TLS egress may use its own certificate authorities; the
        # stand-in trusts what the host trusts, so pip reaches PyPI from a build.
        mkdir -p "$ctx/ca"
        if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
            cp /usr/local/share/ca-certificates/*.crt "$ctx/ca/"
        fi
    fi
    local image
    image="cocbot-standin/$name:$(content_tag "$ctx")"
    if exists "$image"; then
        log "$image: present"
    else
        log "building $image"
        DOCKER_BUILDKIT=0 docker build --network host --build-arg BASE="$base_image" \
            -t "$image" "$ctx" >"$cache/build-$name.log" 2>&1 || {
            tail -n 30 "$cache/build-$name.log" >&2
            rm -rf "$ctx"
            exit 1
        }
        # Older stand-ins of this name (other build files) are no longer used.
        docker image ls --format '{{.Repository}}:{{.Tag}}' "cocbot-standin/$name" \
            | grep -vxF "$image" | xargs -r docker image rm >/dev/null 2>&1 || true
    fi
    rm -rf "$ctx"
    echo "$image"
}

mkdir -p "$cache"
build_base
python_image=$(build_image python "$here/python")
postgres_image=$(build_image postgres "$here/postgres")
echo "PYTHON_IMAGE=$python_image"
echo "POSTGRES_IMAGE=$postgres_image"
