"""aider for real (its PyPI release, in its Python tree), driven by the scripted LLM through the gateway."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import docker
import pytest
from conftest import run_output
from installed_run import run_scripted
from test_openhands import SECRET, TOUCHING_ISSUE, TRUNCATE_ISSUE, assert_no_secret

from pytest_ohbench.agents.base import DEFAULT_AIDER_VERSION, AgentSettings, AgentStatus
from pytest_ohbench.agents.installed.aider import AiderAgent, read_llm_history
from pytest_ohbench.agents.trajectory import read_log, validate
from pytest_ohbench.core.llm import LLMConfig
from pytest_ohbench.tools.testing.llm_server import credential_hash


def answer(prompt: int, completion: int, text: str) -> dict[str, Any]:
    return {"content": text, "usage": {"prompt_tokens": prompt, "completion_tokens": completion}}


def edit(path: str, search: str, replace: str) -> str:
    """One SEARCH/REPLACE block of aider's diff edit format."""
    return f"{path}\n```python\n<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE\n```\n"


SOLVE_TRUNCATE = [  # name the file (aider adds it to the chat), then edit it
    answer(1000, 30, "The slice is in textkit/wrap.py, please add it to the chat."),
    answer(1300, 80, "One too many:\n\n" + edit("textkit/wrap.py", "    return text[: width - len(ellipsis) + 1] + ellipsis",
                                                 "    return text[: width - len(ellipsis)] + ellipsis")),
]
WRONG_TOUCHING = [  # only one side of the comparison: touching intervals still do not overlap
    answer(900, 30, "The comparison is in intervals/core.py, please add it to the chat."),
    answer(1200, 60, "Half a fix:\n\n" + edit("intervals/core.py", "        return self.start < other.end and other.start < self.end",
                                              "        return self.start <= other.end and other.start < self.end")),
]


@pytest.mark.docker
def test_aider_resolves_one_instance_and_fails_a_wrong_edit(
    pytester: pytest.Pytester, swe_suite: Path, old_debian_images: tuple[str, str], docker_client: docker.DockerClient
) -> None:
    """On a bookworm task image (its Python 3.11, glibc 2.36): the tree brings its own Python 3.13 and libraries."""
    old_image, _ = old_debian_images
    scripts = [{"match": TRUNCATE_ISSUE, "tools": [], "responses": SOLVE_TRUNCATE},
               {"match": TOUCHING_ISSUE, "tools": [], "responses": WRONG_TOUCHING}]
    done = run_scripted(pytester, swe_suite, old_image, "aider", scripts, "openai/gpt-4o", (0.0000025, 0.00001), SECRET,
                        section="max_output_tokens = 4000\ntemperature = 0.25\n")
    done.result.assert_outcomes(passed=1, failed=1)
    requests, run = done.requests, done.folder
    # Every call came through the gateway (the real key put back), as OpenAI chat completions with no tools, none
    # streamed, each answered by its script (none past its end): two per item.
    assert {r["auth_sha256"] for r in requests} == {credential_hash(f"Bearer {SECRET}")}
    assert {r["path"] for r in requests} == {"/v1/chat/completions"} and len(requests) == 4
    assert {r["body"]["model"] for r in requests} == {"gpt-4o"}
    assert not any(r["body"].get("tools") or r["body"].get("stream") for r in requests)
    assert {(r["body"]["max_tokens"], r["body"]["temperature"]) for r in requests} == {(4000, 0.25)}  # the section's
    assert sorted((r["script"], r["turn"]) for r in requests) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert not any(r["exhausted"] for r in requests)
    solved, wrong = done.records["ohbench__textkit-2"], done.records["ohbench__intervals-1"]
    assert (solved["outcome"], solved["agent_status"], solved["agent"]) == ("resolved", "finished", "aider")
    assert (solved["input_tokens"], solved["output_tokens"], solved["llm_calls"]) == (2300, 110, 2)
    assert solved["cost_usd"] == pytest.approx(2300 * 0.0000025 + 110 * 0.00001, rel=1e-9)
    assert solved["agent_reported"]["llm_calls"] == 2
    # Only the fix: no aider files (history, caches, .gitignore) in the repository.
    assert solved["patch"].count("diff --git") == 1 and "-    return text[: width - len(ellipsis) + 1] + ellipsis" in solved["patch"]
    assert (wrong["outcome"], wrong["agent_status"]) == ("unresolved", "finished")
    assert (wrong["input_tokens"], wrong["output_tokens"], wrong["llm_calls"]) == (2100, 90, 2)
    assert wrong["cost_usd"] == pytest.approx(2100 * 0.0000025 + 90 * 0.00001, rel=1e-9)
    assert "+        return self.start <= other.end and other.start < self.end" in wrong["patch"]
    # Its LLM history is its events and the trajectory: each answer, and what aider said back.
    log_dir = pytester.path / solved["log_dir"]
    steps = AiderAgent.trajectory_steps(read_log(log_dir / "aider.events.jsonl"))
    assert [s.text for s in steps] == [SOLVE_TRUNCATE[0]["content"], SOLVE_TRUNCATE[1]["content"].rstrip("\n")]
    assert steps[0].outputs[0].startswith("I added these files to the chat: textkit/wrap.py") and steps[1].outputs == []
    console = (log_dir / "agent.log").read_text()
    assert "Applied edit to textkit/wrap.py" in console and "Aider v" + DEFAULT_AIDER_VERSION in console
    assert "#### " in (log_dir / "aider.chat.history.md").read_text()  # its chat history, kept for people
    atif = json.loads((log_dir / "trajectory.json").read_text())
    assert validate(atif) == [] and atif["agent"]["version"] == DEFAULT_AIDER_VERSION
    assert [step["message"] for step in atif["steps"] if step["source"] == "agent"] == [s.text for s in steps]
    page = (run / "report.html").read_text()
    assert "ohbench-trajectory" in page and "&lt;&lt;&lt;&lt;&lt;&lt;&lt; SEARCH" in page
    assert json.loads((run / "run.json").read_text())["agent_version"] == DEFAULT_AIDER_VERSION
    version = run_output(docker_client, solved["image"], ["sh", "-c", "ldd --version | head -n1; python3 --version"]).decode()
    assert "2.36" in version and "Python 3.11" in version  # not what aider runs on
    assert_no_secret(pytester)


LLM_HISTORY = """TO LLM 2026-12-05T18:28:19
-------
SYSTEM Act as an expert software developer.
-------
USER I am not sharing any files that you can edit yet.
-------
ASSISTANT Ok.
-------
USER truncate returns one character too many
USER\x20
USER Fix it.
LLM RESPONSE 2026-12-05T18:28:20
ASSISTANT The slice is in textkit/wrap.py.
ASSISTANT\x20
ASSISTANT Please add it.
TO LLM 2026-12-05T18:28:21
-------
SYSTEM Act as an expert software developer.
-------
USER truncate returns one character too many
-------
ASSISTANT The slice is in textkit/wrap.py.
-------
USER I added these files to the chat: textkit/wrap.py
LLM RESPONSE 2026-12-05T18:28:52
"""


def test_its_llm_history_reads_as_calls_and_a_call_left_unanswered_is_an_error() -> None:
    """aider's LLM history as it writes it: each line of a message prefixed with its role, empty lines too."""
    calls = read_llm_history(LLM_HISTORY)
    assert [c["timestamp"] for c in calls] == ["2026-12-05T18:28:19", "2026-12-05T18:28:21"]
    assert [m["role"] for m in calls[0]["messages"]] == ["system", "user", "assistant", "user"]
    assert calls[0]["messages"][3]["content"] == "truncate returns one character too many\n\nFix it."
    assert calls[0]["response"] == "The slice is in textkit/wrap.py.\n\nPlease add it." and calls[1]["response"] == ""
    steps = AiderAgent.trajectory_steps(calls)
    assert [s.outputs for s in steps] == [["I added these files to the chat: textkit/wrap.py"], []]
    agent = AiderAgent(AgentSettings())
    error = "litellm.InternalServerError: InternalServerError: OpenAIException - Connection error."
    result = agent.summarize([*calls, {"type": "end", "error": error, "reflections_exhausted": False}], LLMConfig(name="m", model="openai/m"))
    assert (result.status, result.llm_calls) == (AgentStatus.ERROR, 2) and result.error == f"aider: {error}"
    finished = agent.summarize([calls[0], {"type": "end", "error": None, "reflections_exhausted": False}], LLMConfig(name="m", model="openai/m"))
    assert (finished.status, finished.error) == (AgentStatus.FINISHED, None)
    stopped = agent.summarize([calls[0], {"type": "end", "error": None, "reflections_exhausted": True}], LLMConfig(name="m", model="openai/m"))
    assert stopped.status is AgentStatus.MAX_STEPS
