"""Bring your own OpenHands: --openhands-source (a checkout or fork) and a release built from its sdist."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from test_openhands import SOLVE_TRUNCATE, TRUNCATE_ISSUE, assert_no_secret, run
from test_openhands_settings import write_config
from tinysuite import make_suite

from pytest_ohbench.agents.openhands.source import inspect_source, lock_pins, release_source, source_key

FORK_MARKER = "FORK-7f3a: this line exists only in the fork's system prompt"
RELEASE = "0.62.0"  # the 0.x release forks are based on; no wheel for Python 3.13: built from its sdist

POETRY_LOCK = """
[[package]]
name = "litellm"
version = "1.77.7"

[[package]]
name = "pylatexenc"
version = "2.10"
"""
UV_LOCK = """
version = 1

[[package]]
name = "openhands-sdk"
version = "1.57.0"
source = { editable = "openhands-sdk" }

[[package]]
name = "litellm"
version = "1.80.0"
source = { registry = "https://pypi.org/simple" }
"""


def make_tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_sources_are_known_by_their_layout_and_pinned_from_their_lock(tmp_path: Path) -> None:
    old = make_tree(tmp_path / "OpenHands", {"openhands/core/main.py": "", "pyproject.toml": "", "poetry.lock": POETRY_LOCK})
    v1 = make_tree(tmp_path / "software-agent-sdk", {
        "openhands-sdk/openhands/sdk/__init__.py": "", "openhands-sdk/pyproject.toml": "",
        "openhands-tools/pyproject.toml": "", "uv.lock": UV_LOCK,
    })
    assert (inspect_source(old).kind, inspect_source(v1).kind) == ("0.x", "v1")
    assert inspect_source(v1).projects == (v1 / "openhands-sdk", v1 / "openhands-tools")
    assert lock_pins(old / "poetry.lock") == ["litellm==1.77.7", "pylatexenc==2.10"]
    assert lock_pins(v1 / "uv.lock") == ["litellm==1.80.0"]  # the workspace's own projects come from the source
    key = source_key(inspect_source(old))
    (old / "openhands" / "core" / "main.py").write_text("print('a local fix')\n")
    assert source_key(inspect_source(old)) != key  # an edit makes a new code tree


def test_a_folder_that_is_not_openhands_is_one_usage_line(pytester: pytest.Pytester) -> None:
    make_suite(pytester, ["octo__lib-1"])
    write_config(pytester)
    pytester.mkdir("notes").joinpath("README.md").write_text("not OpenHands\n")
    result = pytester.runpytest_subprocess("suite", "--llm-config", "gpt", "--openhands-source", "notes")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([
        "ERROR: --openhands-source notes: not an OpenHands tree (neither openhands/core/main.py of OpenHands 0.x "
        "nor openhands-sdk/openhands/sdk of OpenHands V1 is in it); pass a checkout of OpenHands or of a fork"
    ])
    make_tree(pytester.path / "nolock", {"openhands/core/main.py": "", "pyproject.toml": ""})
    result = pytester.runpytest_subprocess("suite", "--llm-config", "gpt", "--openhands-source", "nolock")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --openhands-source nolock: no poetry.lock: *"])
    make_tree(pytester.path / "v1", {"openhands-sdk/openhands/sdk/__init__.py": "", "openhands-sdk/pyproject.toml": "",
                                      "openhands-tools/pyproject.toml": "", "uv.lock": UV_LOCK})
    result = pytester.runpytest_subprocess("suite", "--llm-config", "gpt", "--openhands-source", "v1")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --openhands-source v1: an OpenHands V1 (SDK) tree: pass --agent openhands-sdk"])


@pytest.fixture(scope="session")
def release_tree() -> Path:
    """openhands-ai 0.62.0's sdist, unpacked once per machine (pip)."""
    return release_source(RELEASE).root


def text(content: object) -> str:
    """A message's text: a string, or the text parts of a list of parts."""
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return str(content or "")


def system_prompts(requests: list[dict]) -> list[str]:
    return [text(m.get("content")) for r in requests if r.get("body") for m in r["body"]["messages"] if m.get("role") == "system"]


@pytest.mark.docker
def test_openhands_0_62_resolves_an_instance(pytester: pytest.Pytester, swe_suite: Path, base_image: str, release_tree: Path) -> None:
    requests: list[dict] = []
    result, records = run(pytester, [{"match": TRUNCATE_ISSUE, "responses": SOLVE_TRUNCATE}], "-k", "textkit-2",
                          "--openhands-version", RELEASE, requests=requests)
    result.assert_outcomes(passed=1)
    record = records["ohbench__textkit-2"]
    assert (record["outcome"], record["agent_status"], record["llm_calls"]) == ("resolved", "finished", 4)
    prompts = system_prompts(requests)
    assert prompts and "You are OpenHands agent" in prompts[0] and FORK_MARKER not in prompts[0]
    assert_no_secret(pytester)


@pytest.mark.docker
def test_a_fork_s_local_change_is_the_code_that_runs(
    pytester: pytest.Pytester, swe_suite: Path, base_image: str, release_tree: Path
) -> None:
    """A checkout of 0.62 with an edited system prompt: the model is sent the fork's prompt, not the release's."""
    fork = pytester.path / "OpenHands-fork"
    shutil.copytree(release_tree, fork)
    prompt = fork / "openhands" / "agenthub" / "codeact_agent" / "prompts" / "system_prompt.j2"
    prompt.write_text(prompt.read_text() + f"\n{FORK_MARKER}\n")
    requests: list[dict] = []
    result, records = run(pytester, [{"match": TRUNCATE_ISSUE, "responses": SOLVE_TRUNCATE}], "-k", "textkit-2",
                          "--openhands-source", str(fork), requests=requests)
    result.assert_outcomes(passed=1)
    assert records["ohbench__textkit-2"]["outcome"] == "resolved"
    prompts = system_prompts(requests)
    assert len(prompts) == 4 and all(FORK_MARKER in p for p in prompts)
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    info = json.loads((pytester.path / "reports" / "latest" / "run.json").read_text())
    assert info["agent_version"] == f"{RELEASE} ({fork})" and info["agent_settings"]["openhands_source"] == str(fork)
    log = json.loads((pytester.path / records["ohbench__textkit-2"]["log_dir"] / "openhands.trajectory.json").read_text())
    assert any(FORK_MARKER in json.dumps(event) for event in log)  # OpenHands recorded the prompt it used
