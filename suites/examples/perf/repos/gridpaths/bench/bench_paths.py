"""Time count_paths on many small grids with walls: python3 bench/bench_paths.py [--size N] [--grids G].

The grids are the same on every run (a fixed seed). The counts are checked against a
plain dynamic-programming count. The last lines, `Execution time: <seconds>s` and
`CPU time: <seconds>s`, are the wall and CPU time of the count_paths calls alone.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gridpaths import count_paths  # noqa: E402


def make_grid(rng: random.Random, size: int, walls: int) -> list[str]:
    """An open size x size grid with `walls` blocked cells, never in a corner."""
    cells = [["." for _ in range(size)] for _ in range(size)]
    corners = {(0, 0), (size - 1, size - 1)}
    choices = [(r, c) for r in range(size) for c in range(size) if (r, c) not in corners]
    for row, col in rng.sample(choices, min(walls, len(choices))):
        cells[row][col] = "#"
    return ["".join(row) for row in cells]


def reference_count(grid: list[str]) -> int:
    """Paths to every cell, row by row: the count to check count_paths against."""
    width = len(grid[0])
    ways = [0] * width
    for row_index, row in enumerate(grid):
        for col, cell in enumerate(row):
            if cell == "#":
                ways[col] = 0
            elif row_index == 0 and col == 0:
                ways[col] = 1
            elif col > 0:
                ways[col] += ways[col - 1]
    return ways[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=8)
    parser.add_argument("--grids", type=int, default=250)
    parser.add_argument("--walls", type=int, default=3)
    args = parser.parse_args()
    rng = random.Random(11)
    grids = [make_grid(rng, args.size, args.walls) for _ in range(args.grids)]
    wall, cpu = time.perf_counter(), time.process_time()
    counts = [count_paths(grid) for grid in grids]
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    expected = [reference_count(grid) for grid in grids]
    if counts != expected:
        wrong = next(i for i, (a, b) in enumerate(zip(counts, expected)) if a != b)
        print(f"wrong count for grid {wrong}: {counts[wrong]}, expected {expected[wrong]}")
        return 1
    print(f"{args.grids} grids of {args.size}x{args.size}: {sum(counts)} paths")
    print(f"Execution time: {wall:.6f}s")
    print(f"CPU time: {cpu:.6f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
