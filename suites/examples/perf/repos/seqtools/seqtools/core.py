"""Order-preserving helpers over sequences."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


def unique(items: Iterable[T], key: Callable[[T], Hashable] | None = None) -> list[T]:
    """The items without repeats, in the order of their first occurrence.

    >>> unique([3, 1, 3, 2, 1])
    [3, 1, 2]
    >>> unique(["a", "B", "b", "A"], key=str.lower)
    ['a', 'B']
    """
    seen: list[Any] = []
    result: list[T] = []
    for item in items:
        marker = item if key is None else key(item)
        if marker not in seen:
            seen.append(marker)
            result.append(item)
    return result


def duplicates(items: Iterable[T]) -> list[T]:
    """Items that occur more than once, each listed once, in the order of their second occurrence.

    >>> duplicates([1, 2, 1, 3, 2, 1])
    [1, 2]
    """
    seen: set[Any] = set()
    reported: set[Any] = set()
    result: list[T] = []
    for item in items:
        if item in seen and item not in reported:
            reported.add(item)
            result.append(item)
        seen.add(item)
    return result


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of `size` items; the last one may be shorter.

    >>> list(chunks(range(5), 2))
    [[0, 1], [2, 3], [4]]
    """
    if size < 1:
        raise ValueError(f"size must be at least 1, got {size}")
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
