"""`cargo test` output: one `test <path> ... ok|FAILED|ignored` line per test."""

from __future__ import annotations

import re

# "test tests::parses_empty ... ok"; "ignored, <reason>" on newer toolchains.
_LINE = re.compile(r"^test (\S+) \.\.\. (ok|FAILED|ignored|failed)\b")
_STATUS = {"ok": "PASSED", "FAILED": "FAILED", "failed": "FAILED", "ignored": "SKIPPED"}


def parse_cargo_test(text: str) -> dict[str, str]:
    """Statuses of the unit, integration and doc tests cargo ran.

    Doc tests are named by cargo as `src/lib.rs - path (line N)`: they hold spaces, so
    they are matched by the ` ... ` separator instead.
    """
    statuses: dict[str, str] = {}
    for line in text.splitlines():
        line = line.rstrip()
        if match := _LINE.match(line):
            statuses[match.group(1)] = _STATUS[match.group(2)]
        elif line.startswith("test ") and " ... " in line:
            name, _, result = line[5:].rpartition(" ... ")
            word = result.split(",")[0].strip()
            if word in _STATUS:
                statuses[name] = _STATUS[word]
    return statuses
