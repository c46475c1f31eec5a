"""argparse `type=` converters: a bad option value is a usage error naming the option (plugin/options.py uses them)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from pytest_ohbench.report.compare import Gate, parse_gate

T = TypeVar("T")


def _bounded(kind: Callable[[str], T], minimum: float, expected: str) -> Callable[[str], T]:
    """An argparse `type=` converter: `kind(value)`, at least `minimum`."""

    def convert(value: str) -> T:
        try:
            number = kind(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {value!r}") from None
        if number < minimum:  # type: ignore[operator]
            raise argparse.ArgumentTypeError(f"expected a number >= {minimum:g}, got {value}")
        return number

    return convert


positive_int = _bounded(int, 1, "a whole number")
non_negative_int = _bounded(int, 0, "a whole number")
non_negative_float = _bounded(float, 0, "a number")


def gate_expression(value: str) -> Gate:
    """argparse type: a --ohbench-compare-fail expression."""
    try:
        return parse_gate(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def existing_file(value: str) -> str:
    """argparse type: a path to a file that exists."""
    if not Path(value).is_file():
        raise argparse.ArgumentTypeError(f"no such file: {value}")
    return value


DOCKER_SCHEMES = ("unix", "tcp", "ssh", "http", "https", "npipe")


def docker_host(value: str) -> str:
    """argparse type: a Docker engine URL (unix:///path, tcp://host:port, ssh://user@host)."""
    scheme, separator, rest = value.partition("://")
    if not separator or scheme not in DOCKER_SCHEMES or not rest:
        raise argparse.ArgumentTypeError(
            f"expected a Docker engine URL ({', '.join(s + '://...' for s in DOCKER_SCHEMES[:3])}), got {value!r}"
        )
    return value


def container_limit(value: str) -> int:
    """argparse type: containers per engine, at least 2 (an item's agent and check containers)."""
    number = positive_int(value)
    if number < 2:
        raise argparse.ArgumentTypeError(f"expected at least 2 (an item may hold its agent's and its check's container), got {value}")
    return number


PERF_CRITERIA = ("gso", "swefficiency", "sweperf")


def perf_criterion(value: str) -> str:
    """argparse type: a perf criterion name."""
    if value not in PERF_CRITERIA:
        raise argparse.ArgumentTypeError(f"expected one of {', '.join(PERF_CRITERIA)}, got {value!r}")
    return value


perf_repeats = _bounded(int, 2, "a whole number")
