"""Paths that move only right or down through open cells."""

from __future__ import annotations

OPEN, BLOCKED = ".", "#"


def parse_grid(text: str) -> list[str]:
    """The grid in `text`: one row per non-blank line, all rows as wide, only `.` and `#`."""
    rows = [line.strip() for line in text.splitlines() if line.strip()]
    if not rows:
        raise ValueError("empty grid")
    width = len(rows[0])
    for number, row in enumerate(rows, start=1):
        if len(row) != width:
            raise ValueError(f"row {number} has {len(row)} cells, expected {width}")
        if set(row) - {OPEN, BLOCKED}:
            raise ValueError(f"row {number} has a cell that is neither '.' nor '#'")
    return rows


def count_paths(grid: list[str]) -> int:
    """How many right/down paths lead from the top-left to the bottom-right open cell.

    >>> count_paths(["...", "...", "..."])
    6
    >>> count_paths(["..", "#."])
    1
    """
    if not grid or not grid[0]:
        return 0
    height, width = len(grid), len(grid[0])

    def walk(row: int, col: int) -> int:
        if row >= height or col >= width or grid[row][col] == BLOCKED:
            return 0
        if row == height - 1 and col == width - 1:
            return 1
        return walk(row + 1, col) + walk(row, col + 1)

    return walk(0, 0)
