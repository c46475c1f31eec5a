"""What grading integrity costs per item, measured on the local Docker engine.

    python benchmarks/integrity_overhead.py [--commits 20000] [--reps 7] [--image ohbench/base:trixie]

1. `strip_history` on a clean workspace (one commit, nothing after it): the fast path every
   built image takes, in the agent's container and again in the check's.
2. `strip_history` on a repository with a long history whose HEAD was reset to the middle
   (half the commits, a tag and a branch are "the future"): the repack path a full-clone
   image takes. Each repetition starts a fresh container from one committed image.
3. The test run, A/B interleaved in one container: the plain command (`pytest -rA`) against
   the isolated one (PYTEST_ADDOPTS with the JUnit report outside the repository,
   PYTHONNOUSERSITE) plus reading and parsing that report.

Prints medians (and min/max) in seconds; nothing is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from collections.abc import Callable

import docker

from pytest_ohbench.kinds.judge.logparsers import parse_pytest_junit
from pytest_ohbench.kinds.swe.checker import ISOLATION, JUNIT_PATH
from pytest_ohbench.runtime.docker.runtime import DockerRuntime
from pytest_ohbench.runtime.workspace import strip_history

SMALL_REPO = """
set -e
mkdir -p /testbed/tests && cd /testbed
printf 'def add(a, b):\\n    return a + b\\n' > calc.py
for i in $(seq 1 20); do printf 'from calc import add\\n\\n\\ndef test_%s():\\n    assert add(1, %s) == %s\\n' $i $i $((i+1)) > tests/test_$i.py; done
git init -q -b main && git add -A && git -c user.name=b -c user.email=b@b commit -qm base
"""
# A fast-import stream: `commits` commits over 500 files, 200 lines each.
HISTORY = r"""
import sys
out = sys.stdout.buffer
n = int(sys.argv[1])
for i in range(1, n + 1):
    body = ("".join(f"line {j} of file {i % 500} at commit {i}\n" for j in range(200))).encode()
    msg = f"commit {i}\n".encode()
    out.write(b"commit refs/heads/main\nmark :%d\ncommitter b <b@b> %d +0000\ndata %d\n%s" % (i, 1_600_000_000 + i, len(msg), msg))
    if i > 1:
        out.write(b"from :%d\n" % (i - 1))
    out.write(b"M 100644 inline src/f%d.txt\ndata %d\n%s\n" % (i % 500, len(body), body))
"""


def timed(action: Callable[[], object]) -> float:
    started = time.monotonic()
    action()
    return time.monotonic() - started


def describe(name: str, samples: list[float]) -> None:
    print(f"{name:58s} median {statistics.median(samples):7.3f} s  (min {min(samples):.3f}, max {max(samples):.3f}, n={len(samples)})")


def start(client: docker.DockerClient, image: str) -> DockerRuntime:
    return DockerRuntime.start(client, image, run_id="bench", instance_id=uuid.uuid4().hex[:6], workdir="/testbed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image", default="ohbench/base:trixie")
    parser.add_argument("--commits", type=int, default=20000)
    parser.add_argument("--reps", type=int, default=7)
    args = parser.parse_args()
    client = docker.from_env()

    runtime = start(client, args.image)
    try:
        runtime.execute("mkdir -p /testbed")
        assert runtime.execute(SMALL_REPO, cwd="/").exit_code == 0
        strip = [timed(lambda: strip_history(runtime, "")) for _ in range(args.reps)]
        plain, isolated = [], []
        command = "python3 -m pytest -rA -p no:cacheprovider tests"

        def isolated_run() -> None:
            runtime.execute(ISOLATION + command)
            assert parse_pytest_junit(runtime.read_file(JUNIT_PATH).decode(), [])

        for _ in range(args.reps):  # A/B interleaved
            plain.append(timed(lambda: runtime.execute(command)))
            isolated.append(timed(isolated_run))
    finally:
        runtime.remove()
    describe("strip_history, clean repository (fast path)", strip)
    describe("tests: plain pytest -rA (20 files)", plain)
    describe("tests: isolated pytest + JUnit report read and parsed", isolated)

    builder = start(client, args.image)
    try:
        builder.write_file("/tmp/history.py", HISTORY)
        setup = (
            f"mkdir -p /testbed && cd /testbed && git init -q -b main && python3 /tmp/history.py {args.commits} | git fast-import --quiet"
            f" && git tag v-future && git branch later && git reset -q --hard main~{args.commits // 2} && git gc -q"
            " && git count-objects -vH | grep size-pack"
        )
        made = builder.execute(setup, cwd="/", timeout=1800)
        assert made.exit_code == 0, made.output
        size = made.output.strip()
        image = builder.container.commit(repository="ohbench-bench/history", tag=uuid.uuid4().hex[:8])
    finally:
        builder.remove()
    repack, again = [], []
    try:
        for _ in range(args.reps):
            fresh = start(client, image.id)
            try:
                repack.append(timed(lambda fresh=fresh: strip_history(fresh, "")))
                again.append(timed(lambda fresh=fresh: strip_history(fresh, "")))
            finally:
                fresh.remove()
    finally:
        client.images.remove(image.id, force=True)
    describe(f"strip_history, {args.commits} commits, half of them later ({size})", repack)
    describe("  the same container again (nothing left to prune)", again)


if __name__ == "__main__":
    main()
