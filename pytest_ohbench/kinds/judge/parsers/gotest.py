"""`go test -json` event streams and `go test -v` output.

Test names are as Go prints them (`TestParse`, subtests `TestParse/empty`), without the
package, as in `--- PASS: TestParse`. A test that starts and never reports (the binary
panicked or was killed) is FAILED: its package failed with it.
"""

from __future__ import annotations

import json
import re

_ACTIONS = {"pass": "PASSED", "fail": "FAILED", "skip": "SKIPPED"}
# "--- PASS: TestX (0.00s)", indented for subtests.
_RESULT_LINE = re.compile(r"^\s*--- (PASS|FAIL|SKIP): (\S+)")
_RUN_LINE = re.compile(r"^=== RUN\s+(\S+)")
_VERBOSE = {"PASS": "PASSED", "FAIL": "FAILED", "SKIP": "SKIPPED"}


def parse_go_test_json(text: str) -> dict[str, str]:
    """Statuses from `go test -json` (one JSON event per line; other lines are ignored)."""
    statuses: dict[str, str] = {}
    started: set[str] = set()
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        name = event.get("Test") if isinstance(event, dict) else None
        if not name:
            continue
        action = event.get("Action")
        if action == "run":
            started.add(name)
        elif action in _ACTIONS:
            statuses[name] = _ACTIONS[action]
    for name in started - statuses.keys():
        statuses[name] = "FAILED"  # started, never finished: the test binary died under it
    return statuses


def parse_go_test_verbose(text: str) -> dict[str, str]:
    """Statuses from `go test -v` output (`=== RUN` / `--- PASS:` lines)."""
    statuses: dict[str, str] = {}
    started: set[str] = set()
    for line in text.splitlines():
        if match := _RESULT_LINE.match(line):
            statuses[match.group(2)] = _VERBOSE[match.group(1)]
        elif match := _RUN_LINE.match(line):
            started.add(match.group(1))
    for name in started - statuses.keys():
        statuses[name] = "FAILED"
    return statuses
