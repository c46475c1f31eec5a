#!/usr/bin/env bash
# Make a Docker image from a Debian release with debootstrap (no registry needed), once:
#   bash scripts/debian_image.sh NAME SUITE PACKAGES
# e.g. `bash scripts/debian_image.sh ohbench/base:bookworm bookworm python3,git,patch`.
# An image that exists is kept (seconds). Used for task images from older releases
# (bookworm: Python 3.11) on which agents must still run.
set -euo pipefail

NAME="${1:?usage: bash scripts/debian_image.sh NAME SUITE PACKAGES}"
SUITE="${2:?usage: bash scripts/debian_image.sh NAME SUITE PACKAGES}"
PACKAGES="${3:?usage: bash scripts/debian_image.sh NAME SUITE PACKAGES}"
ROOTFS=""
say() { printf 'debian_image: %s\n' "$*"; }
die() { printf 'debian_image: error: %s\n' "$*" >&2; exit 1; }
cleanup() { [ -z "$ROOTFS" ] || rm -rf "$ROOTFS"; }
trap cleanup EXIT

# Two callers at once (xdist workers, two checkouts) build it once.
exec 9>"/tmp/ohbench-debian-image.$(id -u).lock"
flock -w 1800 9 || die "another build still holds the lock after 30 min"
if docker image inspect "$NAME" >/dev/null 2>&1; then
  say "$NAME present"
  exit 0
fi
[ "$(id -u)" = 0 ] || die "debootstrap needs root"
if ! command -v debootstrap >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null \
    || die "apt-get install debootstrap failed"
fi
mirror="$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -n1 || true)"
[ -n "$mirror" ] || mirror="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
  | sed -nE 's/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?([^[:space:]]+).*/\2/p' | grep -v security | head -n1 || true)"
mirror="${mirror:-http://deb.debian.org/debian}"
ROOTFS="$(mktemp -d /tmp/ohbench-rootfs.XXXXXX)"
log="$ROOTFS.log"
say "debootstrap $SUITE ($PACKAGES) from $mirror"
if ! debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOTFS" "$mirror" >"$log" 2>&1; then
  tail -n 5 "$log" >&2
  die "debootstrap $SUITE failed (log: $log)"
fi
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*
tar -C "$ROOTFS" -c . | docker import - "$NAME" >/dev/null || die "docker import of $NAME failed"
rm -f "$log"
say "built $NAME"
