"""opencode for real (its npm release's Bun program, patched to the tree's loader), driven by the scripted LLM through the gateway."""

from __future__ import annotations

from pathlib import Path

import docker
import pytest
from conftest import run_output
from installed_checks import run_two_items, step
from installed_run import assert_trajectory, assert_two_records
from test_openhands import SECRET, TOUCHING_ISSUE, TRUNCATE_ISSUE, assert_no_secret

from pytest_ohbench.agents.base import DEFAULT_OPENCODE_VERSION
from pytest_ohbench.agents.installed.opencode import OpencodeAgent
from pytest_ohbench.agents.trajectory import read_log
from pytest_ohbench.tools.testing.llm_server import credential_hash

pytestmark = pytest.mark.docker
TOOLS = ["bash", "edit", "read"]  # opencode's own tool names (a model not named GPT gets edit, not apply_patch)


SOLVE_TRUNCATE = [
    step(1000, 50, "Where is the slice?", "bash", command="grep -n ellipsis textkit/wrap.py && python3 --version",
         description="Find the slice"),
    step(1100, 20, "Read it.", "read", filePath="/testbed/textkit/wrap.py"),
    step(1200, 80, "One too many.", "edit", filePath="/testbed/textkit/wrap.py",
         oldString="width - len(ellipsis) + 1]", newString="width - len(ellipsis)]"),
    step(1400, 20, "Fixed truncate."),
]
WRONG_TOUCHING = [  # only one side of the comparison: touching intervals still do not overlap
    step(700, 20, "Where is overlaps?", "grep", pattern="def overlaps", path="/testbed"),  # the tree's rg, nothing downloaded
    step(800, 40, "Half a fix.", "edit", filePath="/testbed/intervals/core.py",
         oldString="self.start < other.end and", newString="self.start <= other.end and"),
    step(900, 10, "Done."),
]


def test_opencode_resolves_one_instance_and_fails_a_wrong_edit(
    pytester: pytest.Pytester, swe_suite: Path, old_debian_images: tuple[str, str], docker_client: docker.DockerClient
) -> None:
    """On a bookworm task image (glibc 2.36, below the tree's own): the tree brings its loader and libraries."""
    scripts = [{"match": TRUNCATE_ISSUE, "tools": TOOLS, "responses": SOLVE_TRUNCATE},
               {"match": TOUCHING_ISSUE, "tools": TOOLS, "responses": WRONG_TOUCHING}]
    requests, run, records = run_two_items(pytester, swe_suite, old_debian_images[0], "opencode", "openai/scripted-coder", scripts)
    # Every call came through the gateway (the real key put back), at the bare model, with opencode's tools; no title call.
    assert {r["auth_sha256"] for r in requests} == {credential_hash(f"Bearer {SECRET}")}
    assert {r["path"].split("?")[0] for r in requests} == {"/v1/chat/completions"} and len(requests) == 7
    assert {r["body"]["model"] for r in requests} == {"scripted-coder"}
    offered = [{t["function"]["name"] for t in r["body"]["tools"]} for r in requests]
    assert all(set(TOOLS) <= names and "webfetch" not in names for names in offered)  # web fetch denied: no looking up the fix
    solved = assert_two_records(records, "opencode", (4700, 170, 4), (2400, 70, 3))
    assert solved["agent_reported"]["llm_calls"] == 4
    # Its JSON events are the trajectory, a step per model call; its commands ran with the image's own tools.
    log_dir = pytester.path / solved["log_dir"]
    steps = OpencodeAgent.trajectory_steps(read_log(log_dir / "opencode.events.jsonl"))
    assert [s.text for s in steps] == ["Where is the slice?", "Read it.", "One too many.", "Fixed truncate."]
    assert steps[2].commands[0].startswith("edit ") and "Edit applied" in steps[2].outputs[0]
    assert [(s.prompt_tokens, s.completion_tokens) for s in steps] == [(1000, 50), (1100, 20), (1200, 80), (1400, 20)]
    assert_trajectory(run, log_dir, steps, DEFAULT_OPENCODE_VERSION)
    grep = OpencodeAgent.trajectory_steps(read_log(pytester.path / records["ohbench__intervals-1"]["log_dir"] / "opencode.events.jsonl"))[0]
    assert grep.commands[0].startswith("grep ") and "/testbed/intervals/core.py" in grep.outputs[0]
    version = run_output(docker_client, solved["image"], ["sh", "-c", "ldd --version | head -n1"]).decode()
    assert "2.36" in version  # older than the tree's glibc 2.41
    assert_no_secret(pytester)
