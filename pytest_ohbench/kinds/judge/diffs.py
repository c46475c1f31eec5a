"""Split a unified diff into its per-file sections, losslessly, and read their paths.

The check sets part of an agent's patch aside (test infrastructure) and applies the rest,
so splitting must never change a byte of what it keeps: sections are slices of the
original text. Git diffs split at `diff --git` lines (which cannot occur inside a hunk);
plain unified diffs (`diff -u`, `patch` style) split at `---`/`+++` headers found between
hunks, counting hunk lines so a removed line that starts with `--` is never a header.
"""

from __future__ import annotations

import dataclasses
import re

_GIT_HEADER = "diff --git "
_HUNK = re.compile(r"^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@")
_OCTAL = re.compile(rb"\\([0-7]{3})")
_C_ESCAPES = {b"n": b"\n", b"t": b"\t", b'"': b'"', b"\\": b"\\", b"a": b"\a", b"b": b"\b", b"f": b"\f", b"r": b"\r", b"v": b"\v"}


@dataclasses.dataclass(frozen=True)
class FileDiff:
    """One file's section of a patch: its text exactly as in the patch, and its paths."""

    text: str
    old_path: str | None  # None for a created file
    new_path: str | None  # None for a deleted file

    @property
    def path(self) -> str:
        """The path this section leaves behind (the old one for a deletion)."""
        return self.new_path or self.old_path or ""

    @property
    def paths(self) -> list[str]:
        """Every path the section reads or writes (both sides of a rename or copy)."""
        return list(dict.fromkeys(p for p in (self.new_path, self.old_path) if p))


def unquote(name: str) -> str:
    """A path as git prints it, C-quoted when it holds special characters, as text."""
    if not (len(name) >= 2 and name[0] == name[-1] == '"'):
        return name
    raw = name[1:-1].encode("utf-8", errors="surrogateescape")
    raw = _OCTAL.sub(lambda m: bytes([int(m.group(1), 8)]), raw)
    raw = re.sub(rb"\\(.)", lambda m: _C_ESCAPES.get(m.group(1), m.group(1)), raw)
    return raw.decode("utf-8", errors="replace")


def _strip_prefix(name: str) -> str | None:
    """`a/x/y.py` -> `x/y.py` (what -p1 applies to); None for /dev/null."""
    name = unquote(name.split("\t", 1)[0].rstrip())
    if name == "/dev/null" or not name:
        return None
    return name.split("/", 1)[1] if "/" in name else name


def _git_header_paths(line: str) -> tuple[str | None, str | None]:
    """Both paths of a `diff --git a/X b/Y` line (for sections without ---/+++ lines)."""
    rest = line[len(_GIT_HEADER):].rstrip("\n")
    if rest.startswith('"'):
        match = re.match(r'("(?:[^"\\]|\\.)*"|\S+) ("(?:[^"\\]|\\.)*"|\S+)$', rest)
        if match:
            return _strip_prefix(match.group(1)), _strip_prefix(match.group(2))
    # Unquoted: the two names are equal except for a rename, so try the middle split first.
    half = (len(rest) - 1) // 2
    if len(rest) % 2 == 1 and rest[half] == " " and rest[2:half] == rest[half + 3:]:
        return _strip_prefix(rest[:half]), _strip_prefix(rest[half + 1:])
    old, sep, new = rest.rpartition(" b/")
    return (_strip_prefix(old), _strip_prefix("b/" + new)) if sep else (_strip_prefix(rest), _strip_prefix(rest))


def _section_paths(lines: list[str]) -> tuple[str | None, str | None]:
    """Old and new path of one section, from its headers."""
    old = new = None
    seen_old = seen_new = False
    for line in lines:
        if _HUNK.match(line):
            break
        if line.startswith("--- ") and not seen_old:
            old, seen_old = _strip_prefix(line[4:]), True
        elif line.startswith("+++ ") and not seen_new:
            new, seen_new = _strip_prefix(line[4:]), True
        elif line.startswith(("rename from ", "copy from ")):
            old, seen_old = unquote(line.split(" ", 2)[2].rstrip("\n")), True
        elif line.startswith(("rename to ", "copy to ")):
            new, seen_new = unquote(line.split(" ", 2)[2].rstrip("\n")), True
    if lines and lines[0].startswith(_GIT_HEADER) and not (seen_old and seen_new):
        header_old, header_new = _git_header_paths(lines[0])
        is_new = any(line.startswith("new file mode") for line in lines)
        is_deleted = any(line.startswith("deleted file mode") for line in lines)
        old = old if seen_old else (None if is_new else header_old)
        new = new if seen_new else (None if is_deleted else header_new)
    return old, new


def _plain_starts(lines: list[str]) -> list[int]:
    """Where each file section of a non-git unified diff starts (its header lines included)."""
    starts: list[int] = []
    after_hunks = 0  # index just past the previous file's last hunk
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("--- ") and index + 1 < len(lines) and lines[index + 1].startswith("+++ "):
            starts.append(after_hunks if starts else 0)
            index += 2
            continue
        match = _HUNK.match(line)
        if match:
            old_left = int(match.group(1) or 1)
            new_left = int(match.group(2) or 1)
            index += 1
            while index < len(lines) and (old_left > 0 or new_left > 0):
                body = lines[index]
                if body.startswith("-"):
                    old_left -= 1
                elif body.startswith("+"):
                    new_left -= 1
                elif body.startswith("\\"):
                    pass  # "\ No newline at end of file"
                else:  # context (a blank line is context whose space was stripped)
                    old_left -= 1
                    new_left -= 1
                index += 1
            while index < len(lines) and lines[index].startswith("\\"):
                index += 1
            after_hunks = index
            continue
        index += 1
    return starts


def split_patch(patch: str) -> tuple[str, list[FileDiff]]:
    """(text before the first file, one FileDiff per file); "".join of all is `patch`."""
    lines = patch.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.startswith(_GIT_HEADER)] or _plain_starts(lines)
    if not starts:
        return patch, []
    preamble = "".join(lines[: starts[0]])
    sections = []
    for begin, end in zip(starts, [*starts[1:], len(lines)], strict=True):
        chunk = lines[begin:end]
        old, new = _section_paths(chunk)
        sections.append(FileDiff("".join(chunk), old, new))
    return preamble, sections


def patch_paths(patch: str) -> list[str]:
    """Paths a patch touches (new side, or old for a deletion), in order, without duplicates."""
    return list(dict.fromkeys(section.path for section in split_patch(patch)[1] if section.path))
