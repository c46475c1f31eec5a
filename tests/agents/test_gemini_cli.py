"""Gemini CLI for real (its npm release and Node.js, from its tree), driven by the scripted LLM through the gateway."""

from __future__ import annotations

from pathlib import Path

import docker
import pytest
from installed_run import Tools, check_run, run_two_items

from pytest_ohbench.agents.installed.gemini_cli import GeminiCliAgent

pytestmark = pytest.mark.docker
TOOLS = Tools(  # Gemini CLI's own tools (its replace asks for an instruction too)
    shell=lambda command: ("run_shell_command", {"command": command}),
    read=lambda path: ("read_file", {"file_path": path}),
    edit=lambda path, old, new: ("replace", {"file_path": path, "instruction": "Fix it.", "old_string": old, "new_string": new}),
)


def test_gemini_cli_resolves_one_instance_and_fails_a_wrong_edit(
    pytester: pytest.Pytester, swe_suite: Path, old_debian_images: tuple[str, str], docker_client: docker.DockerClient
) -> None:
    """On a bookworm task image without Node.js (glibc 2.36): the tree brings node, its loader and libraries."""
    outcome = run_two_items(pytester, swe_suite, old_debian_images[0], "gemini-cli", "gemini/gemini-2.5-flash", TOOLS)
    # Gemini's streamed generateContent, at the bare model, with Gemini CLI's tools; no side call.
    requests = outcome.requests
    assert {r["path"] for r in requests} == {"/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"}
    assert len(requests) == 7 and not any(r["exhausted"] for r in requests)
    offered = [{d["name"] for t in r["body"]["tools"] for d in t.get("functionDeclarations", [])} for r in requests]
    assert all(set(TOOLS.names()) <= names for names in offered)
    steps = check_run(pytester, docker_client, outcome, GeminiCliAgent)
    assert steps[2].commands[0].startswith("replace ") and len(steps[2].outputs) == 1
