"""An installed agent run for real on two bundled SWE items (textkit-2, intervals-1) on an older
Debian task image, driven by the scripted LLM through the run's gateway."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from pytest_ohbench.tools.testing.llm_server import ScriptedLLMServer


@dataclasses.dataclass
class InstalledRun:
    result: pytest.RunResult
    requests: list[dict[str, Any]]  # what the scripted LLM was asked (token counts and the like left out)
    records: dict[str, dict[str, Any]]  # results.jsonl by instance id
    folder: Path  # the run folder


def run_installed(pytester: pytest.Pytester, swe_suite: Path, image: str, agent: str, scripts: list[dict[str, Any]],
                  model: str, prices: tuple[float, float], secret: str, section: str = "") -> InstalledRun:
    """`agent` on textkit-2 and intervals-1 with task image `image`, the `scripts` answering as `model` at `prices`
    (`section`: more lines of the config section)."""
    suite_yaml = swe_suite / "suite.yaml"
    suite_yaml.write_text(suite_yaml.read_text().replace("base: ohbench/base:trixie", f"base: {image}"))
    with ScriptedLLMServer({"scripts": scripts}) as server:
        (pytester.path / "config.toml").write_text(
            f'[llm.model]\nmodel = "{model}"\napi_key = "{secret}"\nbase_url = "{server.base_url}"\n'
            f"input_cost_per_token = {prices[0]}\noutput_cost_per_token = {prices[1]}\n{section}"
        )
        result = pytester.runpytest_subprocess("suites", "--agent", agent, "--llm-config", "model",
                                               "-k", "textkit-2 or intervals-1", "-n", "2")
        requests = [r for r in server.requests if r.get("body")]
    folder = pytester.path / "reports" / "latest"
    records = {json.loads(line)["instance_id"]: json.loads(line) for line in (folder / "results.jsonl").read_text().splitlines()}
    return InstalledRun(result, requests, records, folder)
