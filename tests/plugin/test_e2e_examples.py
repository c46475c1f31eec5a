"""Acceptance on the bundled SWE suite: oracle resolves all, noop none, serial == xdist."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import docker
import pytest
from conftest import EXAMPLES_SWE

from pytest_ohbench.runtime.docker.runtime import RUN_LABEL

pytestmark = pytest.mark.docker
INSTANCES = sorted(
    json.loads(line).get("instance_id")
    for line in (EXAMPLES_SWE / "swe-bench.jsonl").read_text().splitlines()
)


def outcomes(pytester: pytest.Pytester, run_id: str) -> dict[str, str]:
    lines = (pytester.path / "reports" / run_id / "results.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) == len({r["instance_id"] for r in records}), "one line per item"
    return {r["instance_id"]: r["outcome"] for r in records}


def test_the_suite_has_two_repositories() -> None:
    assert len(INSTANCES) >= 4
    assert len({i.split("-")[0] for i in INSTANCES}) >= 2


def test_datasets_match_their_generator() -> None:
    """The gold patches fix the bugs and the F2P/P2P lists are right (checked by pytest on the host)."""
    subprocess.run([sys.executable, str(EXAMPLES_SWE / "make_datasets.py"), "--check"], check=True, capture_output=True)


@pytest.mark.parametrize("workers", [["-n", "2"], []], ids=["xdist", "serial"])
def test_oracle_resolves_every_instance(
    pytester: pytest.Pytester, swe_suite: Path, base_image: str, docker_client: docker.DockerClient, workers: list[str]
) -> None:
    run_id = f"oracle-{len(workers)}"
    result = pytester.runpytest_subprocess("suites", "--agent", "oracle", "--ohbench-run-id", run_id, *workers)
    result.assert_outcomes(passed=len(INSTANCES))
    assert outcomes(pytester, run_id) == {i: "resolved" for i in INSTANCES}
    assert not docker_client.containers.list(all=True, filters={"label": f"{RUN_LABEL}={run_id}"})


@pytest.mark.parametrize("workers", [["-n", "2"], []], ids=["xdist", "serial"])
def test_noop_fails_every_instance_with_empty_patch(pytester: pytest.Pytester, swe_suite: Path, workers: list[str]) -> None:
    result = pytester.runpytest_subprocess("suites", "--agent", "noop", "--ohbench-run-id", "noop", *workers)
    result.assert_outcomes(failed=len(INSTANCES))
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert outcomes(pytester, "noop") == {i: "empty_patch" for i in INSTANCES}


def test_replay_of_a_patch_that_does_not_apply(pytester: pytest.Pytester, swe_suite: Path, base_image: str) -> None:
    bad = "diff --git a/textkit/slug.py b/textkit/slug.py\n--- a/textkit/slug.py\n+++ b/textkit/slug.py\n@@ -1,3 +1,3 @@\n-no such line\n+x\n"
    preds = pytester.path / "preds.json"
    preds.write_text(json.dumps([{"instance_id": "ohbench__textkit-1", "model_name_or_path": "m", "model_patch": bad}]))
    result = pytester.runpytest_subprocess(
        "suites", "-k", "textkit-1", "--agent", "replay", "--ohbench-predictions", str(preds), "--ohbench-run-id", "bad"
    )
    result.assert_outcomes(failed=1)
    assert outcomes(pytester, "bad") == {"ohbench__textkit-1": "patch_apply_failed"}
