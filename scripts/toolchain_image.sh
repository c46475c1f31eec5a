#!/usr/bin/env bash
# Make a toolchain image on top of the base image from Debian's packages: the compilers and
# test runners the bundled Go and Java examples (and the parser fixtures) need.
#
#   bash scripts/toolchain_image.sh                 # ohbench/toolchains:trixie (Go, Java + JUnit)
#   bash scripts/toolchain_image.sh --capture       # also ohbench/capture:trixie (+ Rust, Node, Jest, Mocha)
#
# Why not a Dockerfile: image builds run on Docker's bridge network, which reaches no package
# registry here. A container on the host's network reaches Debian's mirror as the host does, so
# the packages are installed with apt in such a container and the result is committed as an
# image. Idempotent: an image whose label names the same base image id and package list is
# kept (seconds); anything else is rebuilt (about 2 minutes, mostly downloads).
#
# Environment: OHBENCH_BASE_IMAGE (default ohbench/base:trixie).
set -euo pipefail

BASE_IMAGE="${OHBENCH_BASE_IMAGE:-ohbench/base:trixie}"
TOOLCHAIN_IMAGE="ohbench/toolchains:trixie"
TOOLCHAIN_PACKAGES="golang-go default-jdk-headless junit4 junit5"
CAPTURE_IMAGE="ohbench/capture:trixie"
CAPTURE_PACKAGES="cargo nodejs mocha jest"
LABEL="ohbench.toolchain"
# Run once in the toolchain image after the install: compiles Go's testing packages into the
# build cache, so a fresh container's first `go test` links instead of compiling the standard
# library (over a minute on 2 cores). Part of the label, so changing it rebuilds the image.
GO_WARM='d=$(mktemp -d) && cd "$d" && printf "module warm\n\ngo 1.21\n" >go.mod
  && printf "package warm\n\nimport \"testing\"\n\nfunc TestWarm(t *testing.T) {}\n" >warm_test.go
  && GOTOOLCHAIN=local GOPROXY=off go vet ./... && GOTOOLCHAIN=local GOPROXY=off go test -count=1 -json ./... >/dev/null
  && cd / && rm -rf "$d"'

say() { printf 'toolchain: %s\n' "$*"; }
die() { printf 'toolchain: error: %s\n' "$*" >&2; exit 1; }

WITH_CAPTURE=""
for arg in "$@"; do
  case "$arg" in
    --capture) WITH_CAPTURE=1 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) die "unknown argument '$arg' (usage: bash scripts/toolchain_image.sh [--capture])" ;;
  esac
done

# make_image FROM TO "PACKAGES" ["AFTER"]: apt-get install PACKAGES in a container of FROM,
# then run the shell command AFTER there, commit as TO.
make_image() {
  local from="$1" to="$2" packages="$3" after="${4:-true}" want have name log
  want="$(docker image inspect -f '{{.Id}}' "$from" 2>/dev/null)" || die "image $from is missing (run scripts/bootstrap.sh)"
  want="$want $packages $(printf '%s' "$after" | sha256sum | cut -c1-12)"
  have="$(docker image inspect -f "{{index .Config.Labels \"$LABEL\"}}" "$to" 2>/dev/null || true)"
  if [ "$have" = "$want" ]; then
    say "$to: up to date"
    return
  fi
  name="ohbench-toolchain-$$-$RANDOM"
  log="/tmp/$name.log"
  say "$to: installing $packages on $from (apt in a container on the host network)"
  # --network host only for apt's downloads from the Debian mirror; task containers never get it.
  if ! docker run --name "$name" --network host "$from" bash -c "
      set -e
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq
      apt-get install -y -qq --no-install-recommends $packages
      apt-get clean
      rm -rf /var/lib/apt/lists/*
      $(printf '%s' "$after" | tr '\n' ' ')" >"$log" 2>&1; then
    docker rm -f "$name" >/dev/null 2>&1 || true
    tail -n 15 "$log" >&2
    die "apt-get install in a container of $from failed (log: $log)"
  fi
  docker commit --change "LABEL $LABEL=\"$want\"" --change 'CMD ["bash"]' "$name" "$to" >/dev/null \
    || { docker rm -f "$name" >/dev/null 2>&1; die "docker commit of $to failed"; }
  docker rm -f "$name" >/dev/null
  rm -f "$log"
  say "$to: built"
}

make_image "$BASE_IMAGE" "$TOOLCHAIN_IMAGE" "$TOOLCHAIN_PACKAGES" "$GO_WARM"
[ -z "$WITH_CAPTURE" ] || make_image "$TOOLCHAIN_IMAGE" "$CAPTURE_IMAGE" "$CAPTURE_PACKAGES"
