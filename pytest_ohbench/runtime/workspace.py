"""Git operations on a task's workspace: the agent's patch is its diff to the base commit."""

from __future__ import annotations

import os
import secrets
import shlex
from typing import TYPE_CHECKING

from pytest_ohbench.core.errors import HarnessError, last_line
from pytest_ohbench.core.outcomes import Outcome
from pytest_ohbench.runtime.base import Runtime, host_path

if TYPE_CHECKING:
    from pytest_ohbench.core.task import Task

DIFF_PATH = "/tmp/ohbench_agent.diff"


INLINE_DIFF_LIMIT = 4 * 2**20  # bytes: a diff up to this size comes back with the command's output


def extract_patch(runtime: Runtime, base_commit: str) -> str:
    """Everything the agent changed since `base_commit` (also what it committed), as a diff."""
    # `git add -A` so new files are part of the diff; --binary keeps binary edits appliable.
    # The diff goes to a file first: the command's output mixes in stderr (warnings would
    # corrupt it). A diff that is not too big is then printed after a marker git cannot have
    # written: one round-trip instead of a second request for the file (an archive through
    # the engine, the costlier half of this step).
    token = secrets.token_hex(12)
    command = (
        f"git add -A && git diff --no-color --binary --cached {shlex.quote(base_commit)} > {DIFF_PATH} && "
        f"if [ $(stat -c %s {DIFF_PATH}) -le {INLINE_DIFF_LIMIT} ]; then printf '{token}\\n'; cat {DIFF_PATH}; fi"
    )
    result = runtime.execute(command, timeout=120)
    if result.exit_code != 0:
        last = last_line(result.output)
        raise HarnessError(Outcome.INFRA_ERROR, f"cannot read the agent's changes with git diff: {last}")
    marker = result.output.find(f"{token}\n")
    if marker >= 0:
        return result.output[marker + len(token) + 1:]
    return runtime.read_file(DIFF_PATH).decode("utf-8", errors="replace")


# Leaves the workspace's repository holding the base commit and its past, nothing later:
# every ref but HEAD's branch (tags, remotes, stash, notes, replace refs), reflogs, special
# heads, other worktrees and, when any object is unreachable from what is left, the objects
# themselves (repack + prune). $1 is the base commit ("" for HEAD). Exit 3/4: bad image.
STRIP_HISTORY = r"""
set -u
git rev-parse --is-inside-work-tree >/dev/null 2>&1 || { echo "not a git repository: nothing to strip"; exit 0; }
gitdir=$(git rev-parse --absolute-git-dir)
base=$(git rev-parse --verify -q "${1:-HEAD}^{commit}") || { echo "base_commit ${1:-HEAD} is not in the repository"; exit 3; }
head=$(git rev-parse --verify -q "HEAD^{commit}" || true)
[ "$head" = "$base" ] || { echo "HEAD is ${head:-unborn}, not base_commit $base"; exit 4; }
branch=$(git symbolic-ref -q HEAD || true)
git for-each-ref --format='delete %(refname)' | git update-ref --no-deref --stdin || exit 5
if [ -n "$branch" ]; then git update-ref "$branch" "$base"; else git update-ref --no-deref HEAD "$base"; fi || exit 5
rm -rf "$gitdir/logs" "$gitdir/worktrees" "$gitdir/rebase-merge" "$gitdir/rebase-apply" "$gitdir/sequencer" \
  "$gitdir/refs/original" "$gitdir/FETCH_HEAD" "$gitdir/ORIG_HEAD" "$gitdir/MERGE_HEAD" "$gitdir/CHERRY_PICK_HEAD" \
  "$gitdir/REVERT_HEAD" "$gitdir/REBASE_HEAD" "$gitdir/BISECT_HEAD" "$gitdir/AUTO_MERGE" "$gitdir"/BISECT_*
objects="$gitdir/objects"
# Later commits (the usual leak: a full clone reset to the base) are found by counting commit
# objects, which is cheap. Loose objects (a dangling blob, a dropped stash) are compared in
# full, which walks every tree; packs that keep unreachable objects always mean a repack.
all=$(git cat-file --batch-all-objects --unordered --batch-check='%(objecttype)' | grep -c '^commit')
kept=$(git rev-list --all --count)
if [ "$all" = "$kept" ] && [ "$(git count-objects | cut -d' ' -f1)" != 0 ]; then
  all=$(git cat-file --batch-all-objects --batch-check='%(objectname)' | wc -l)
  kept=$(git rev-list --objects --all --indexed-objects | wc -l)
fi
if [ "$all" != "$kept" ] || [ -s "$objects/info/alternates" ] || ls "$objects"/pack/*.keep "$objects"/pack/*.mtimes >/dev/null 2>&1; then
  # Kept packs, commit-graphs and multi-pack indexes would keep or name later commits.
  rm -rf "$objects"/pack/*.keep "$objects"/pack/multi-pack-index* "$objects/info/commit-graph" "$objects/info/commit-graphs"
  git -c repack.writeBitmaps=false -c pack.writeReverseIndex=false repack -a -d -q || exit 5
  rm -f "$objects/info/alternates"
  git prune --expire=now || exit 5
  echo "pruned the objects after the base commit"
fi
"""


def strip_history(runtime: Runtime, base_commit: str) -> str:
    """Remove from the workspace's git repository everything after `base_commit`.

    Images made by cloning a repository keep its later commits (tags, remote branches,
    the reflog of the reset to the base), and an agent can read the real fix there with
    `git log --all`. Runs before the agent starts; a workspace that is not a repository is
    left alone. Returns git's note (e.g. how many objects were pruned).
    """
    result = runtime.execute(f"bash -c {shlex.quote(STRIP_HISTORY)} strip {shlex.quote(base_commit)}", timeout=600)
    if result.exit_code != 0:
        last = last_line(result.output, f"exit {result.exit_code}")
        raise HarnessError(Outcome.INFRA_ERROR, f"cannot strip the workspace's git history after the base commit: {last}")
    return result.output.strip()


def copy_inputs(runtime: Runtime, task: "Task") -> None:
    """The task's input files into a workspace: the agent's before it starts (and a check's
    fresh one that needs them)."""
    for entry in task.inputs:
        target = entry.target if entry.target.startswith("/") else f"{runtime.workdir}/{entry.target}"
        if not entry.source.exists():
            raise HarnessError(Outcome.INFRA_ERROR, f"{task.location}: input {entry.source} does not exist")
        if entry.source.is_dir():
            runtime.write_tree(target, entry.source)
        else:
            # host_path: on the local runtime an absolute target is below its folder, never the host's /.
            runtime.execute(f"mkdir -p {shlex.quote(host_path(runtime, os.path.dirname(target) or '/'))}")
            runtime.write_file(target, entry.source.read_bytes())
