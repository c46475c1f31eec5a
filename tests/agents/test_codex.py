"""The Codex CLI for real (its npm release's program, from its tree), driven by the scripted LLM through the gateway."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from installed_checks import run_two_items
from installed_run import assert_trajectory, assert_two_records
from test_openhands import SECRET, TOUCHING_ISSUE, TRUNCATE_ISSUE, assert_no_secret

from pytest_ohbench.agents.base import DEFAULT_CODEX_VERSION
from pytest_ohbench.agents.installed.codex import CodexAgent
from pytest_ohbench.agents.trajectory import read_log
from pytest_ohbench.tools.testing.llm_server import credential_hash

pytestmark = pytest.mark.docker
# Codex's own tools for a model it knows (gpt-5.5): unified exec, and apply_patch as a freeform (custom) tool.
TOOLS = ["exec_command", "apply_patch"]


def step(prompt: int, completion: int, text: str, name: str = "", arguments: Any = None) -> dict[str, Any]:
    response: dict[str, Any] = {"content": text, "usage": {"prompt_tokens": prompt, "completion_tokens": completion}}
    if name:
        response["tool_calls"] = [{"name": name, "arguments": arguments}]
    return response


def patch(path: str, *lines: str) -> str:
    return "\n".join(["*** Begin Patch", f"*** Update File: {path}", "@@", *lines, "*** End Patch", ""])


SOLVE_TRUNCATE = [
    step(1000, 50, "Where is the slice?", "exec_command", {"cmd": "grep -n ellipsis textkit/wrap.py && python3 --version"}),
    step(1200, 80, "One too many.", "apply_patch", patch("textkit/wrap.py", "         return text",
                                                         "-    return text[: width - len(ellipsis) + 1] + ellipsis",
                                                         "+    return text[: width - len(ellipsis)] + ellipsis")),
    step(1400, 20, "Fixed truncate."),
]
WRONG_TOUCHING = [  # only one side of the comparison: touching intervals still do not overlap
    step(800, 40, "Half a fix.", "apply_patch", patch("intervals/core.py",
                                                      "-        return self.start < other.end and other.start < self.end",
                                                      "+        return self.start <= other.end and other.start < self.end")),
    step(900, 10, "Done."),
]


def test_codex_resolves_one_instance_and_fails_a_wrong_edit(
    pytester: pytest.Pytester, swe_suite: Path, old_debian_images: tuple[str, str]
) -> None:
    """On a bookworm task image: Codex's program is static, so its tree needs nothing of the image."""
    scripts = [{"match": TRUNCATE_ISSUE, "tools": TOOLS, "responses": SOLVE_TRUNCATE},
               {"match": TOUCHING_ISSUE, "tools": TOOLS, "responses": WRONG_TOUCHING}]
    requests, run, records = run_two_items(pytester, swe_suite, old_debian_images[0], "codex", "openai/gpt-5.5", scripts)
    # Every call came through the gateway (the real key put back), at the bare model, with Codex's own tools.
    assert {r["auth_sha256"] for r in requests} == {credential_hash(f"Bearer {SECRET}")}
    assert {r["path"].split("?")[0] for r in requests} == {"/v1/responses"} and len(requests) == 5
    assert {r["body"]["model"] for r in requests} == {"gpt-5.5"}
    assert all(set(TOOLS) <= {t.get("name") for t in r["body"]["tools"]} for r in requests)
    assert not any(t.get("type") == "web_search" for r in requests for t in r["body"]["tools"])  # off: it could find the fix
    solved = assert_two_records(records, "codex", (3600, 150, 3), (1700, 50, 2))
    assert solved["agent_reported"]["output_tokens"] == 150
    # Its JSONL events are the trajectory; its commands ran with the image's own tools.
    log_dir = pytester.path / solved["log_dir"]
    steps = CodexAgent.trajectory_steps(read_log(log_dir / "codex.events.jsonl"))
    assert [s.text for s in steps] == ["Where is the slice?", "One too many.", "Fixed truncate."]
    assert steps[1].commands == ["apply_patch: update /testbed/textkit/wrap.py"] and steps[1].outputs == ["completed"]
    assert_trajectory(run, log_dir, steps, DEFAULT_CODEX_VERSION)
    assert_no_secret(pytester)
