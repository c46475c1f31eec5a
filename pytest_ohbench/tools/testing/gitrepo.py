"""Small git repositories made on the fly, committed exactly as the bundled suites' Dockerfile
commits a task image's files, so a base commit made on the host is the image's base_commit.

Shared by the tests' tiny suites and the perf calibration task.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

# The same deterministic commit as the bundled suites' Dockerfile, so base_commit matches.
DOCKERFILE = """\
ARG BASE_IMAGE=ohbench/base:trixie
FROM ${BASE_IMAGE}
COPY . /testbed
WORKDIR /testbed
RUN git init -q -b main \\
 && git add -A \\
 && GIT_AUTHOR_DATE="2024-01-01T00:00:00+0000" GIT_COMMITTER_DATE="2024-01-01T00:00:00+0000" \\
    git -c user.name=ohbench -c user.email=ohbench@example.invalid commit -q -m "base"
"""
COMMIT_ENV = {
    "GIT_AUTHOR_DATE": "2024-01-01T00:00:00+0000",
    "GIT_COMMITTER_DATE": "2024-01-01T00:00:00+0000",
    # The user's own git configuration (signing, hooks, templates) must not change the sha.
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}
# What a Dockerfile's COPY leaves out when the repository's .dockerignore says so (the
# calibration repository's does), and what a test run leaves behind.
NOT_COPIED = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".dockerignore")


def git(cwd: Path, *args: str) -> str:
    """Run git with the Dockerfile's identity and dates in `cwd`; its stdout."""
    command = ["git", "-c", "user.name=ohbench", "-c", "user.email=ohbench@example.invalid", *args]
    return subprocess.run(command, cwd=cwd, env={**os.environ, **COMMIT_ENV}, check=True, capture_output=True, text=True).stdout


def base_checkout(repo: Path, into: Path) -> str:
    """Copy `repo` to `into` and commit it as the Dockerfile does; the base sha."""
    shutil.copytree(repo, into, ignore=NOT_COPIED, dirs_exist_ok=True)
    git(into, "init", "-q", "-b", "main")
    git(into, "add", "-A")
    git(into, "commit", "-q", "-m", "base")
    return git(into, "rev-parse", "HEAD").strip()


def diff_for(base: Path, scratch: Path, changes: dict[str, str]) -> str:
    """A real `git diff` of `changes` (path -> new text) made in a committed copy of `base`
    at `scratch` (which keeps the checkout, e.g. for its sha)."""
    base_checkout(base, scratch)
    for name, text in changes.items():
        (scratch / name).parent.mkdir(parents=True, exist_ok=True)
        (scratch / name).write_text(text)
    return git(scratch, "diff")
