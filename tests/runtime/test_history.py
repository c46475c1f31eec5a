"""The agent's container holds no git history after the base commit (real engine).

The task image here is made the way real ones are: the repository is committed at the base,
then a later commit (the real fix), tags, a remote branch, notes, a stash and a loose object
are added, refs are packed and HEAD is reset to the base. Agents read such history with
`git log --all`; the workspace must show none of it, for a built image and for a user-given
one, and neither may the container the agent's code is graded in.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import docker
import pytest
from conftest import run_output
from tinysuite import DOCKERFILE, make_tiny_suite, write_predictions

from pytest_ohbench.core.errors import HarnessError
from pytest_ohbench.core.task import PatchTestsSpec, Task
from pytest_ohbench.kinds.swe.checker import ENV_FILE_LIMIT, prepare_ahead, prepare_check
from pytest_ohbench.runtime.docker.runtime import DockerRuntime
from pytest_ohbench.runtime.workspace import strip_history

pytestmark = pytest.mark.docker

FUTURE = DOCKERFILE + """\
RUN git config user.name later && git config user.email later@example.invalid \\
 && base=$(git rev-parse HEAD) \\
 && sed -i 's/a - b/a + b  # FUTURE_FIX/' calc.py && git commit -qam "fix add" && git rev-parse HEAD > /future_sha \\
 && git tag v1.1 && git tag -a v1.1-notes -m "FUTURE_RELEASE" && git branch release \\
 && git update-ref refs/remotes/origin/main HEAD && git notes add -m FUTURE_NOTE HEAD \\
 && git reset -q --hard "$base" \\
 && echo "STASHED_FUTURE = 1" >> calc.py && git stash -q \\
 && git pack-refs --all && git gc -q \\
 && echo LOOSE_FUTURE | git hash-object -w --stdin > /dev/null \\
 && git config --unset user.name && git config --unset user.email
"""
# What an agent would try; printed to the agent's log by the `command` agent.
PROBE = (
    "git log --all --format=%H; echo ==reflog; git reflog --all; echo ==tags; git tag; echo ==stash; git stash list;"
    " echo ==refs; git for-each-ref; cat .git/packed-refs; echo ==objects; git cat-file --batch-all-objects --batch-check;"
    " echo ==grep; git cat-file --batch-all-objects --batch | grep -a -c FUTURE; echo ==fsck; git fsck --unreachable --no-reflogs"
)
# Library code that, when the tests import it, looks through git for a later calc.py that
# adds correctly and takes its add(): the agent never saw the fix, its code finds it.
FROM_THE_FUTURE = '''import os
import subprocess
from conftest import run_output


def add(a, b):
    return a - b


def mul(a, b):
    return a * b


def _later_add():
    here = os.path.dirname(os.path.abspath(__file__))
    git = lambda *args: subprocess.run(["git", *args], cwd=here, capture_output=True, text=True).stdout
    for sha in git("log", "--all", "--format=%H").split():
        scope = {}
        try:
            exec(git("show", sha + ":calc.py"), scope)
            if scope["add"](2, 3) == 5:
                return scope["add"]
        except Exception:
            continue
    return add


add = _later_add()
'''


@pytest.fixture(scope="module")
def suites(tmp_path_factory: pytest.TempPathFactory, docker_client: docker.DockerClient, base_image: str) -> dict[str, str]:
    """Two suites over the same history-laden repository: built from a Dockerfile, and given as an image."""
    root = tmp_path_factory.mktemp("history")
    built = root / "built"
    built.mkdir()
    make_tiny_suite(built, dockerfile=FUTURE)
    given = root / "given"
    given.mkdir()
    make_tiny_suite(given, dockerfile=FUTURE)
    tag = "ohbench-test/future-history:" + hashlib.sha256(FUTURE.encode()).hexdigest()[:12]
    docker_client.images.build(
        path=str(given / "repos" / "calc"), dockerfile=str(given / "Dockerfile"), tag=tag,
        buildargs={"BASE_IMAGE": base_image}, rm=True, network_mode="none",
    )
    (given / "suite.yaml").write_text(f"name: given\nimage:\n  template: '{tag}'\n  pull: false\ncontainer:\n  memory: 512m\n")
    row = json.loads((given / "data.jsonl").read_text())
    future = run_output(docker_client, tag, ["cat", "/future_sha"]).decode().strip()
    return {"root": str(root), "image": tag, "base": row["base_commit"], "future": future}


def test_the_image_really_holds_the_future(docker_client: docker.DockerClient, suites: dict[str, str]) -> None:
    out = run_output(docker_client, suites["image"], ["bash", "-c", PROBE], working_dir="/testbed").decode()
    assert suites["future"] in out and "stash@{0}" in out and "v1.1" in out


def test_agent_workspace_shows_nothing_after_the_base(suites: dict[str, str]) -> None:
    root = Path(suites["root"])
    command = [sys.executable, "-m", "pytest", "built", "given", "--agent", "command", "--ohbench-command", PROBE,
               "--ohbench-run-id", "probe", "-p", "no:cacheprovider"]
    result = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=600,
                            env={**os.environ, "PYTEST_ADDOPTS": ""})
    records = [json.loads(line) for line in (root / "reports" / "probe" / "results.jsonl").read_text().splitlines()]
    assert {r["suite"] for r in records} == {"tiny", "given"}, result.stdout[-2000:]
    for record in records:
        log = (root / record["log_dir"] / "agent.log").read_text()
        assert record["agent_status"] == "finished", log
        section = dict(part.split("\n", 1) for part in ("==log\n" + log.split("\n", 2)[2]).split("==")[1:])
        assert section["log"].split() == [suites["base"]]  # git log --all: the base commit only
        assert section["reflog"].strip() == ""
        assert section["tags"].strip() == "" and section["stash"].strip() == ""
        refs = [line for line in section["refs"].splitlines() if line and not line.startswith("#")]
        assert refs == [f"{suites['base']} commit\trefs/heads/main"]
        objects = section["objects"].split("\n")
        assert all(line.split()[0] != suites["future"] for line in objects if line)
        assert len([line for line in objects if line]) == 5  # commit, 2 trees, 2 blobs
        assert section["grep"].split()[0] == "0"  # no object holds the later fix, stash, note or tag
        assert section["fsck"].strip() == ""
        assert record["outcome"] == "empty_patch"  # the workspace is clean at the base


def test_graded_code_cannot_reach_the_future_either(suites: dict[str, str]) -> None:
    root = Path(suites["root"])
    repo = root / "scratch"
    subprocess.run(["cp", "-a", str(root / "given" / "repos" / "calc"), str(repo)], check=True)
    for args in (["init", "-q"], ["add", "-A"], ["-c", "user.name=x", "-c", "user.email=x@x", "commit", "-qm", "b"]):
        subprocess.run(["git", *args], cwd=repo, check=True)
    (repo / "calc.py").write_text(FROM_THE_FUTURE)
    patch = subprocess.run(["git", "diff"], cwd=repo, capture_output=True, text=True, check=True).stdout
    preds = write_predictions(root / "future-preds.jsonl", patch)
    command = [sys.executable, "-m", "pytest", "given", "--agent", "replay", "--ohbench-predictions", str(preds),
               "--ohbench-run-id", "future", "-p", "no:cacheprovider"]
    result = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=600,
                            env={**os.environ, "PYTEST_ADDOPTS": ""})
    [record] = [json.loads(line) for line in (root / "reports" / "future" / "results.jsonl").read_text().splitlines()]
    assert record["outcome"] == "unresolved", result.stdout[-2000:]
    assert record["fail_to_pass"]["failure"] == ["tests/test_calc.py::test_add"]


def test_strip_history_directly(docker_client: docker.DockerClient, suites: dict[str, str]) -> None:
    runtime = DockerRuntime.start(docker_client, suites["image"], run_id="history", instance_id="strip", workdir="/testbed")
    try:
        with pytest.raises(HarnessError, match=f"HEAD is {suites['base']}, not base_commit {suites['future']}"):
            strip_history(runtime, suites["future"])  # the image's HEAD must be the base
        with pytest.raises(HarnessError, match=r"base_commit 0{40} is not in the repository"):
            strip_history(runtime, "0" * 40)
        assert strip_history(runtime, suites["base"]) == "pruned the objects after the base commit"
        assert strip_history(runtime, suites["base"]) == ""  # nothing left to prune: fast path
        # A dangling blob alone (no later commit) is found too.
        blob = runtime.execute("echo LATER_BLOB | git hash-object -w --stdin").output.strip()
        assert strip_history(runtime, suites["base"]) == "pruned the objects after the base commit"
        assert runtime.execute(f"git cat-file -e {blob}").exit_code != 0
        assert runtime.execute("git symbolic-ref HEAD").output.strip() == "refs/heads/main"
        assert runtime.execute("git status --porcelain").output == ""
        assert runtime.execute("git fsck --full --strict").exit_code == 0
        assert strip_history(runtime, "") == ""  # no base_commit: HEAD is the base
        runtime.execute("rm -rf /testbed/.git")
        assert strip_history(runtime, suites["base"]) == "not a git repository: nothing to strip"
    finally:
        runtime.remove()


def _calc_task(suites: dict[str, str], base: str) -> Task:
    row = json.loads((Path(suites["root"]) / "given" / "data.jsonl").read_text())
    spec = PatchTestsSpec(test_patch=row["test_patch"], fail_to_pass=json.loads(row["FAIL_TO_PASS"]))
    return Task(instance_id="tiny__calc-1", kind="swe", repo="tiny/calc", base_commit=base, prompt="", check=spec)


def test_a_check_container_prepared_ahead_is_stripped_and_judges_as_before(
    docker_client: docker.DockerClient, suites: dict[str, str], tmp_path: Path
) -> None:
    """The check's history strip runs before the container is handed out (while the agent
    runs); patches small enough travel in the preparation script's environment, big ones
    as an archive. The verdicts and logs are those of the step-by-step preparation."""
    row = json.loads((Path(suites["root"]) / "given" / "data.jsonl").read_text())
    task = _calc_task(suites, suites["base"])
    big = "".join(f"+line {n:05d} {'x' * 60}\n" for n in range(1200))  # a new file of about 85 KB
    patch = row["patch"] + f"diff --git a/data.txt b/data.txt\nnew file mode 100644\n--- /dev/null\n+++ b/data.txt\n@@ -0,0 +1,1200 @@\n{big}"
    assert len(patch.encode()) > ENV_FILE_LIMIT
    runtimes = [
        DockerRuntime.start(docker_client, suites["image"], run_id="history", instance_id=f"ahead-{n}", workdir="/testbed")
        for n in range(3)
    ]
    try:
        big_one, small_one, refused = runtimes
        prepare_ahead(big_one, task)
        assert big_one.execute("git log --all --format=%H").output.split() == [suites["base"]]
        prepared = prepare_check(big_one, task, task.check, patch, tmp_path)  # type: ignore[arg-type]
        assert prepared.applied is not None and prepared.applied.startswith("git apply --verbose")
        assert big_one.execute("wc -l < data.txt").output.strip() == "1200"
        assert "a + b" in big_one.execute("cat calc.py").output
        assert "def test_add" in big_one.execute("cat tests/test_calc.py").output  # the test patch too

        prepare_ahead(small_one, task)
        # An agent patch that does not apply: every command tried, the cause kept, no test patch step.
        broken = row["patch"].replace("-    return a - b", "-    return a - c")
        prepared = prepare_check(small_one, task, task.check, broken, tmp_path)  # type: ignore[arg-type]
        assert prepared.applied is None and prepared.cause.startswith("git apply: ")
        assert (tmp_path / "apply.log").read_text().count("$ ") == 3

        # Strip ahead against a base that is not the image's HEAD: the check fails as it always did.
        wrong = _calc_task(suites, suites["future"])
        prepare_ahead(refused, wrong)
        with pytest.raises(HarnessError, match=f"HEAD is {suites['base']}, not base_commit {suites['future']}"):
            prepare_check(refused, wrong, wrong.check, row["patch"], tmp_path)  # type: ignore[arg-type]
    finally:
        for runtime in runtimes:
            runtime.remove()
