"""Cleanup users can run and trust: what the harness built or left behind, by age or disk budget.

    python -m pytest_ohbench.tools.prune --older-than 7d --dry-run
    python -m pytest_ohbench.tools.prune --images-budget 20G --reports reports

Removes, never touching what a running session uses:
- containers of runs whose controller process is gone (label `ohbench.controller`);
- images the harness built (label `ohbench.content_hash`: task builds, agent layers) that no
  container uses, older than `--older-than`, or the oldest first until the built images fit
  in `--images-budget`;
- run folders under `--reports` older than `--older-than`, except `latest`'s target and
  folders whose session is still running (their `.controller` process is alive);
- the OpenHands wheelhouse cache folders older than `--older-than` (with `--caches`).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pytest_ohbench.core.machine import cache_dir
from pytest_ohbench.core.suite import memory_bytes
from pytest_ohbench.report.run_folder import IN_USE_FILE, LATEST_LINK, RESULTS_FILE
from pytest_ohbench.runtime.docker.prune import (
    ENGINE_KINDS,
    Candidate,
    container_candidates,
    image_candidates,
    open_engine,
    remove_from_engine,
)
from pytest_ohbench.runtime.provider import RuntimeUnavailable, controller_alive


def _folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def run_candidates(reports: Path, older_than: float) -> list[Candidate]:
    """Run folders past the age, except `latest` and folders of sessions still running."""
    if not reports.is_dir():
        return []
    latest = (reports / LATEST_LINK).resolve() if (reports / LATEST_LINK).is_symlink() else None
    found = []
    for folder in sorted(p for p in reports.iterdir() if p.is_dir() and not p.is_symlink()):
        if folder.resolve() == latest or not (folder / RESULTS_FILE).exists():
            continue
        marker = folder / IN_USE_FILE
        if marker.is_file() and controller_alive(marker.read_text(encoding="utf-8")):
            continue
        age = time.time() - (folder / RESULTS_FILE).stat().st_mtime
        if age >= older_than:
            found.append(Candidate("run", str(folder), _folder_size(folder), f"last written {age / 86400:.1f} days ago"))
    return found


def cache_candidates(older_than: float) -> list[Candidate]:
    """Wheelhouse folders in the harness cache past the age (a lock file beside one is its build)."""
    root = cache_dir()
    if not root.is_dir():
        return []
    found = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        age = time.time() - folder.stat().st_mtime
        if age >= older_than:
            found.append(Candidate("cache", str(folder), _folder_size(folder), f"unused for {age / 86400:.1f} days"))
    return found


def remove(engine: Any, candidate: Candidate) -> None:
    """Remove one candidate (already gone is fine): from the engine, or a folder."""
    if candidate.kind in ENGINE_KINDS:
        remove_from_engine(engine, candidate)
    else:
        shutil.rmtree(candidate.name, ignore_errors=True)


def duration(value: str) -> float:
    """argparse type: 30m, 12h, 7d (or plain seconds) in seconds."""
    scale = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        if value and value[-1] in scale:
            return float(value[:-1]) * scale[value[-1]]
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a duration like 12h or 7d, got {value!r}") from None


def size(value: str) -> int:
    """argparse type: 20G, 500M, ... in bytes."""
    try:
        return memory_bytes(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a size like 20G, got {value!r}") from None


def main(argv: Sequence[str] | None = None) -> int:
    """The prune command: list (and unless --dry-run remove) what is no longer needed."""
    parser = argparse.ArgumentParser(prog="python -m pytest_ohbench.tools.prune", description=__doc__.split("\n\n")[0])
    parser.add_argument("--older-than", type=duration, default=None, help="age past which images, runs, caches go (e.g. 7d)")
    parser.add_argument("--images-budget", type=size, default=None, help="keep the built images within this size (e.g. 20G)")
    parser.add_argument("--reports", type=Path, default=Path("reports"), help="the folder of run folders (default: reports)")
    parser.add_argument("--run", default=None, help="only the images and containers this run id made")
    parser.add_argument("--caches", action="store_true", help="also the OpenHands wheelhouse caches past --older-than")
    parser.add_argument("--dry-run", action="store_true", help="list what would go, remove nothing")
    args = parser.parse_args(argv)
    try:
        client = open_engine()
    except RuntimeUnavailable as exc:
        print(f"prune: {exc}", file=sys.stderr)
        return 2
    candidates = container_candidates(client, args.run) + image_candidates(
        client, args.older_than, args.images_budget, args.run
    )
    if args.older_than is not None:
        candidates += run_candidates(args.reports, args.older_than)
        if args.caches:
            candidates += cache_candidates(args.older_than)
    for candidate in candidates:
        if not args.dry_run:
            remove(client, candidate)
        verb = "would remove" if args.dry_run else "removed"
        print(f"{verb} {candidate.kind} {candidate.name} ({candidate.size_bytes / 2**20:.1f} MiB): {candidate.reason}")
    freed = sum(c.size_bytes for c in candidates)
    print(f"prune: {len(candidates)} {'to remove' if args.dry_run else 'removed'}, {freed / 2**30:.2f} GiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
