#!/usr/bin/env bash
# Make this machine ready to run pytest-ohbench: a virtualenv with the package, a running
# Docker engine, the base image the bundled suites build on and the toolchain image on top
# of it (scripts/toolchain_image.sh), the sealed network's relay (built with gcc). Idempotent: a second run
# changes nothing and takes well under a second. `--test` also installs what the project's
# own tests need (chromium, for the HTML report test).
#
# Environment: OHBENCH_BASE_IMAGE (default ohbench/base:trixie) and OHBENCH_BASE_SUITE
# (the Debian suite debootstrap builds it from, default trixie: OpenHands needs Python >= 3.12).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
BASE_IMAGE="${OHBENCH_BASE_IMAGE:-ohbench/base:trixie}"
BASE_SUITE="${OHBENCH_BASE_SUITE:-trixie}"
BASE_PACKAGES="python3,python3-venv,python3-pytest,git,patch,ca-certificates"
DOCKERD_LOG="/var/log/ohbench-dockerd.log"
MSWE_VERSION="1.1.2"  # the multi-swe-bench release whose parsers the parity tests check
ROOTFS=""

say() { printf 'bootstrap: %s\n' "$*"; }
die() { printf 'bootstrap: error: %s\n' "$*" >&2; exit 1; }
is_root() { [ "$(id -u)" = 0 ]; }

WITH_TEST_TOOLS=""
for arg in "$@"; do
  case "$arg" in
    --test) WITH_TEST_TOOLS=1 ;;
    -h|--help) echo "usage: bash scripts/bootstrap.sh [--test]"; exit 0 ;;
    *) die "unknown argument '$arg' (usage: bash scripts/bootstrap.sh [--test])" ;;
  esac
done

# A half-made root filesystem never outlives the script, however it ends.
cleanup() { [ -z "$ROOTFS" ] || rm -rf "$ROOTFS"; }
trap cleanup EXIT

# Two bootstraps at once (two shells, two checkouts) would race on pip, dockerd and the image.
if command -v flock >/dev/null 2>&1; then
  exec 9>"/tmp/ohbench-bootstrap.$(id -u).lock"
  flock -n 9 || { say "waiting for another bootstrap to finish"; flock -w 1800 9 || die "another bootstrap still holds /tmp/ohbench-bootstrap.$(id -u).lock after 30 min"; }
fi

apt_install() {
  is_root || die "need root to apt-get install $*"
  if [ -z "${APT_UPDATED:-}" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null || die "apt-get update failed"
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null || die "apt-get install $* failed"
}

# 1. The virtualenv, reinstalled only when pyproject.toml changed since the last install.
setup_venv() {
  local stamp="$VENV/.ohbench-pyproject.sha256" want
  want="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
  if [ -x "$VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    say "venv: up to date ($VENV)"
    return
  fi
  say "venv: installing the package into $VENV (a minute or two on a fresh machine)"
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV" || die "python3 -m venv failed (apt-get install python3-venv?)"
  local log="$VENV/.ohbench-pip.log"
  # The extras swebench and mswe grade real SWE-bench / Multi-SWE-bench rows with their official
  # parsers; multi-swe-bench itself goes in without its dependencies: its parsers need only
  # dataclasses-json (in the extra), not its image-building and GitHub stack.
  if ! { "$VENV/bin/python" -m pip install -q --upgrade pip \
      && "$VENV/bin/python" -m pip install -q -e "${ROOT}[test,swebench,mswe]" \
      && "$VENV/bin/python" -m pip install -q --no-deps "multi-swe-bench==$MSWE_VERSION"; } >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    die "pip install failed (log: $log)"
  fi
  echo "$want" > "$stamp"
  say "venv: installed"
}

# 2. A Docker engine that answers.
setup_docker() {
  if docker info >/dev/null 2>&1; then
    say "docker: engine already running"
    return
  fi
  is_root || die "no Docker engine answers and this is not root: start dockerd (or join the docker group), or set DOCKER_HOST"
  command -v dockerd >/dev/null 2>&1 || { say "docker: installing docker.io"; apt_install docker.io; }
  command -v docker >/dev/null 2>&1 || apt_install docker.io
  if pgrep -x dockerd >/dev/null; then
    say "docker: a dockerd is already running, waiting for it to answer"
  else
    # A dockerd killed with its session leaves pid files behind; nothing owns them now.
    rm -f /var/run/docker.pid /var/run/docker/containerd/containerd.pid
    say "docker: starting dockerd (log: $DOCKERD_LOG)"
    # Its own session, no terminal, and not our lock (fd 9): it must outlive this script.
    setsid nohup dockerd >"$DOCKERD_LOG" 2>&1 </dev/null 9>&- &
  fi
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && { say "docker: engine running"; return; }
    sleep 1
  done
  die "dockerd did not answer within 60 s (see $DOCKERD_LOG)"
}

# The Debian mirror this machine's apt uses (deb822 .sources or a classic sources.list).
debian_mirror() {
  local uri
  uri="$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -n1 || true)"
  [ -n "$uri" ] || uri="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
    | sed -nE 's/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?([^[:space:]]+).*/\2/p' | grep -v security | head -n1 || true)"
  echo "${uri:-http://deb.debian.org/debian}"
}

# 3. The base image: local, else a quick pull, else debootstrap + docker import.
setup_base_image() {
  if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    say "base image: $BASE_IMAGE present"
    return
  fi
  # No registry may be reachable: a pull gets a short leash, then we build.
  if timeout 20 docker pull -q "$BASE_IMAGE" >/dev/null 2>&1; then
    say "base image: pulled $BASE_IMAGE"
    return
  fi
  is_root || die "base image $BASE_IMAGE is missing and building it (debootstrap) needs root"
  command -v debootstrap >/dev/null 2>&1 || { say "base image: installing debootstrap"; apt_install debootstrap; }
  local mirror log=/tmp/ohbench-debootstrap.log
  mirror="$(debian_mirror)"
  ROOTFS="$(mktemp -d /tmp/ohbench-rootfs.XXXXXX)"
  say "base image: cannot pull $BASE_IMAGE, debootstrap $BASE_SUITE from $mirror (about a minute)"
  if ! debootstrap --variant=minbase --include="$BASE_PACKAGES" "$BASE_SUITE" "$ROOTFS" "$mirror" >"$log" 2>&1; then
    tail -n 5 "$log" >&2
    die "debootstrap $BASE_SUITE failed (log: $log)"
  fi
  # Package caches are dead weight in every task image.
  rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*
  tar -C "$ROOTFS" -c . | docker import - "$BASE_IMAGE" >/dev/null || die "docker import of $BASE_IMAGE failed"
  rm -rf "$ROOTFS" "$log"
  ROOTFS=""
  if ! docker run --rm --network none "$BASE_IMAGE" sh -c 'git --version && python3 -m pytest --version' >/dev/null 2>&1; then
    docker image rm "$BASE_IMAGE" >/dev/null 2>&1 || true
    die "the new base image $BASE_IMAGE cannot run git or python3 -m pytest (removed it)"
  fi
  say "base image: built $BASE_IMAGE"
}

# 4. The sealed network's relay (pytest_ohbench/runtime/relay.c), built once per machine with a
# C compiler and a static libc so it runs in any task image; installs them when missing.
setup_relay() {
  local relay build=("$VENV/bin/python" -c "from pytest_ohbench.runtime.sealed import relay_binary; print(relay_binary())")
  if relay="$("${build[@]}" 2>/dev/null)"; then
    say "relay: $relay"
    return
  fi
  say "relay: installing gcc and libc6-dev to build it"
  apt_install gcc libc6-dev
  relay="$("${build[@]}")" || die "the sealed network's relay could not be built (see above)"
  say "relay: built $relay"
}

# 5. npm: the installed agents (Claude Code, Codex, ...) come from the npm registry.
setup_npm() {
  if command -v npm >/dev/null 2>&1; then
    say "npm: present"
    return
  fi
  say "npm: installing Debian's npm"
  apt_install npm
}

# 6. With --test: what the project's own tests need beyond that (a browser for the HTML test,
# and for the remote-worker tests' second host in a network namespace: iproute2, nsenter and sshd).
setup_test_tools() {
  local missing=()
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v ip >/dev/null 2>&1 || missing+=(iproute2)
  command -v nsenter >/dev/null 2>&1 || missing+=(util-linux)
  [ -x /usr/sbin/sshd ] || missing+=(openssh-server)
  command -v ssh >/dev/null 2>&1 || missing+=(openssh-client)
  if [ "${#missing[@]}" = 0 ]; then
    say "test tools: present"
    return
  fi
  say "test tools: installing ${missing[*]}"
  apt_install "${missing[@]}"
}

setup_venv
setup_relay
setup_docker
setup_base_image
setup_npm
# The Go and Java toolchains of the bundled Multi-SWE-bench examples, once per machine.
bash "$ROOT/scripts/toolchain_image.sh" || die "the toolchain image could not be made"
[ -z "$WITH_TEST_TOOLS" ] || setup_test_tools
say "ready"
