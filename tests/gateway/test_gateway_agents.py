"""Agents through the LLM gateway, end to end: real containers, the scripted LLM as the upstream.

The `command` agent runs `llm-client` (a CLI on the openai package, installed offline in the
task image) in the task container; `mini` runs on the host. The gateway meters them, holds
their budgets, keeps the real key to itself, and records and replays their exchanges.
"""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path
from typing import Any

import docker
import pytest
from llm_client_image import llm_client_image

from pytest_ohbench.gateway.meter import BUDGET_EXCEEDED
from pytest_ohbench.tools.testing.llm_server import ScriptedLLMServer, credential_hash

pytestmark = pytest.mark.docker
SECRET = "sk-ohbench-REAL-KEY-gateway-5d1e"
TRUNCATE_ISSUE = "truncate returns one character too many"
FIX = "sed -i 's/width - len(ellipsis) + 1]/width - len(ellipsis)]/' textkit/wrap.py"
CLIENT = "llm-client {prompt_file}"
PRICES = {"input": 1e-6, "output": 2e-6, "cache_read": 1e-7}


def answer(text: str, prompt: int, completion: int, cached: int = 0, reasoning: int = 0, **extra: Any) -> dict[str, Any]:
    usage = {"prompt_tokens": prompt, "completion_tokens": completion, "cached_tokens": cached, "reasoning_tokens": reasoning}
    return {"content": text, "usage": usage, **extra}


def cost(prompt: int, completion: int, cached: int = 0) -> float:
    return (prompt - cached) * PRICES["input"] + cached * PRICES["cache_read"] + completion * PRICES["output"]


def write_config(path: Path, base_url: str) -> None:
    path.write_text(f"""\
[llm]
api_key = "{SECRET}"
base_url = "{base_url}"
num_retries = 0

[llm.gpt]
model = "openai/gpt-4o"
input_cost_per_token = {PRICES["input"]}
output_cost_per_token = {PRICES["output"]}
cache_read_cost_per_token = {PRICES["cache_read"]}
""")


def records(pytester: pytest.Pytester, run: str = "latest") -> dict[str, dict]:
    lines = (pytester.path / "reports" / run / "results.jsonl").read_text().splitlines()
    return {json.loads(line)["instance_id"]: json.loads(line) for line in lines}


def assert_secret_nowhere(pytester: pytest.Pytester, result: pytest.RunResult) -> None:
    leaking = [str(p) for p in (pytester.path / "reports").rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()]
    assert leaking == []
    assert SECRET not in result.stdout.str() + result.stderr.str()


@pytest.fixture(scope="session")
def client_base(docker_client: docker.DockerClient, base_image: str) -> str:
    """The base image with the openai package and llm-client (built once per content hash)."""
    return llm_client_image(docker_client, base_image)


@pytest.fixture
def client_suite(swe_suite: Path, client_base: str) -> Path:
    """The bundled SWE examples, their task images built on the llm-client base."""
    suite_yaml = swe_suite / "suite.yaml"
    suite_yaml.write_text(suite_yaml.read_text().replace("base: ohbench/base:trixie", f"base: {client_base}"))
    return swe_suite


def test_a_cli_agent_on_the_openai_package_gets_exact_cost_and_tokens(pytester: pytest.Pytester, client_suite: Path) -> None:
    solve = [
        answer("cat textkit/wrap.py", 1000, 50, cached=400, reasoning=20),
        answer(FIX, 1200, 80, cached=1000),  # streamed: the CLI does not ask for the usage chunk
        answer("python3 -m pytest -q tests/test_wrap.py", 1400, 30),
        answer("DONE", 1500, 5),
    ]
    with ScriptedLLMServer({"scripts": [{"match": TRUNCATE_ISSUE, "responses": solve}]}) as server:
        write_config(pytester.path / "config.toml", server.base_url)
        result = pytester.runpytest_subprocess(
            "suites", "-k", "textkit-2", "--agent", "command", "--llm-config", "gpt", "--ohbench-command", CLIENT)
    result.assert_outcomes(passed=1)
    record = records(pytester)["ohbench__textkit-2"]
    assert (record["outcome"], record["agent_status"]) == ("resolved", "finished")
    assert (record["input_tokens"], record["output_tokens"], record["cached_tokens"], record["reasoning_tokens"]) == (5100, 165, 1400, 20)
    assert record["cost_usd"] == pytest.approx(cost(1000, 50, 400) + cost(1200, 80, 1000) + cost(1400, 30) + cost(1500, 5), rel=1e-9)
    assert record["llm_calls"] == 4 and record["agent_reported"] is None  # the CLI reports nothing itself
    assert (record["llm"]["upstream_requests"], record["llm"]["usage_missing"], record["llm"]["latency_s"] > 0) == (4, 0, True)
    # The upstream got the real key; the CLI in the container only its token.
    assert {r["auth_sha256"] for r in server.requests} == {credential_hash(f"Bearer {SECRET}")}
    assert [bool(r["body"].get("stream")) for r in server.requests] == [False, True, False, True]
    summary = json.loads((pytester.path / "reports" / "latest" / "summary.json").read_text())
    assert summary["totals"]["cost_usd"] == pytest.approx(record["cost_usd"], rel=1e-6)
    assert_secret_nowhere(pytester, result)


def test_no_task_container_holds_the_real_key(
    pytester: pytest.Pytester, client_suite: Path, docker_client: docker.DockerClient
) -> None:
    # The CLI's second command keeps it busy while the test looks inside its container.
    script = {"scripts": [{"match": TRUNCATE_ISSUE, "responses": [
        answer(FIX, 100, 10), answer("sleep 8", 100, 10), answer("DONE", 100, 10)]}]}
    seen: dict[str, Any] = {}

    def inspect() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and "environ" not in seen:
            for container in docker_client.containers.list(filters={"label": "ohbench.run_id=keycheck"}):
                if "sleep 8" not in json.dumps(container.top()):
                    continue
                container.reload()
                seen["env"] = container.attrs["Config"]["Env"]
                seen["environ"] = container.exec_run(["sh", "-c", "cat /proc/[0-9]*/environ | tr '\\0' '\\n'"]).output.decode()
                grep = container.exec_run(["grep", "-rlsF", SECRET, "/", "--exclude-dir=proc", "--exclude-dir=sys", "--exclude-dir=dev"])
                seen["grep"] = (grep.exit_code, grep.output.decode())
                seen["workspace"] = container.exec_run(["grep", "-rlsF", "OPENAI", "/testbed", "/tmp"]).output.decode()
                break
            time.sleep(0.2)

    with ScriptedLLMServer(script) as server:
        write_config(pytester.path / "config.toml", server.base_url)
        watcher = threading.Thread(target=inspect)
        watcher.start()
        result = pytester.runpytest_subprocess(
            "suites", "-k", "textkit-2", "--agent", "command", "--llm-config", "gpt", "--ohbench-command", CLIENT,
            "--ohbench-run-id", "keycheck")
        watcher.join()
    result.assert_outcomes(passed=1)
    assert "environ" in seen, "the agent's container was never seen mid-run"
    assert not any(SECRET in variable for variable in seen["env"])  # docker inspect
    # The check reads the CLI's own environment: its token is there, the real key is not.
    assert re.search(r"^OPENAI_API_KEY=ohb-\S+$", seen["environ"], re.M) and "OPENAI_BASE_URL=http://127.0.0.1:" in seen["environ"]
    assert SECRET not in seen["environ"]
    assert seen["grep"] == (1, "")  # nothing on the filesystem (grep exits 1: no match)
    assert seen["workspace"] == ""
    assert_secret_nowhere(pytester, result)


def test_a_task_budget_stops_the_agent_mid_run_and_records_the_spend(pytester: pytest.Pytester, client_suite: Path) -> None:
    # Each call costs $0.01; the task may spend $0.025: the fourth call is refused.
    steps = [answer(f"echo step {i}", 10_000, 0) for i in range(6)] + [answer("DONE", 10, 0)]
    with ScriptedLLMServer({"scripts": [{"match": TRUNCATE_ISSUE, "responses": steps}]}) as server:
        write_config(pytester.path / "config.toml", server.base_url)
        result = pytester.runpytest_subprocess(
            "suites", "-k", "textkit-2", "--agent", "command", "--llm-config", "gpt", "--ohbench-command", CLIENT,
            "--ohbench-max-cost-per-task", "0.025")
        upstream = len(server.requests)
    result.assert_outcomes(failed=1)
    record = records(pytester)["ohbench__textkit-2"]
    assert (record["outcome"], record["agent_status"], record["resolved"]) == ("budget_exceeded", "max_cost", False)
    assert record["cost_usd"] == pytest.approx(0.03, rel=1e-9) and record["llm_calls"] == upstream == 3
    assert record["llm"]["refused"] == 1 and record["error"].startswith(f"{BUDGET_EXCEEDED}: task ")
    agent_log = (pytester.path / record["log_dir"] / "agent.log").read_text()
    assert "Error code: 402" in agent_log and BUDGET_EXCEEDED in agent_log  # what the CLI itself was told
    assert "budget_exceeded" in result.stdout.str()
    summary = json.loads((pytester.path / "reports" / "latest" / "summary.json").read_text())
    assert summary["totals"]["outcomes"]["budget_exceeded"] == 1 and summary["totals"]["instances"] == 1


def test_the_run_budget_holds_across_parallel_workers(pytester: pytest.Pytester, client_suite: Path) -> None:
    # Three tasks, two workers, $0.01 a call and no task limit: the run may spend $0.035.
    steps = [answer(f"echo step {i}", 10_000, 0, latency=0.1) for i in range(8)] + [answer("DONE", 10, 0)]
    with ScriptedLLMServer({"scripts": [{"responses": steps}]}) as server:
        write_config(pytester.path / "config.toml", server.base_url)
        result = pytester.runpytest_subprocess(
            "suites", "-k", "textkit", "--agent", "command", "--llm-config", "gpt", "--ohbench-command", CLIENT,
            "--ohbench-max-cost-per-task", "0", "--ohbench-max-cost", "0.035", "-n", "2")
        upstream = len(server.requests)
    by_id = records(pytester)
    assert len(by_id) == 3
    spent = sum(r["cost_usd"] for r in by_id.values())
    assert 0.035 <= spent <= 0.035 + 0.01 + 1e-9  # over by at most one request
    assert upstream == sum(r["llm_calls"] for r in by_id.values()) == round(spent / 0.01)
    outcomes = sorted(r["outcome"] for r in by_id.values())
    assert set(outcomes) <= {"budget_exceeded", "not_run"} and "budget_exceeded" in outcomes
    assert all("--ohbench-max-cost" in (r["error"] or "") or r["outcome"] == "not_run" for r in by_id.values())
    assert result.ret == 1


# mini-swe-agent's protocol: fix, write the patch to patch.txt, submit it with `cat patch.txt`.
SOLVE = [
    {"content": "look", "tool_calls": [{"name": "bash", "arguments": {"command": "cat textkit/wrap.py"}}],
     "usage": {"prompt_tokens": 1000, "completion_tokens": 50, "cached_tokens": 200}},
    {"content": "fix", "tool_calls": [{"name": "bash", "arguments": {
        "command": FIX + "; python3 -m pytest -q tests/test_wrap.py; git diff -- textkit/wrap.py > patch.txt"}}],
     "usage": {"prompt_tokens": 1200, "completion_tokens": 80, "cached_tokens": 1000}},
    {"content": "submit", "tool_calls": [{"name": "bash", "arguments": {"command": "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT && cat patch.txt"}}],
     "usage": {"prompt_tokens": 1400, "completion_tokens": 20}},
]
GIVE_UP = [
    {"content": "hm", "tool_calls": [{"name": "bash", "arguments": {"command": "ls"}}], "usage": {"prompt_tokens": 900, "completion_tokens": 10}},
    {"content": "bye", "tool_calls": [{"name": "bash", "arguments": {"command": "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"}}],
     "usage": {"prompt_tokens": 950, "completion_tokens": 5}},
]


def test_a_recorded_run_replays_with_the_server_stopped(pytester: pytest.Pytester, swe_suite: Path, base_image: str) -> None:
    scripts = [{"match": TRUNCATE_ISSUE, "responses": SOLVE}, {"match": "slugify", "responses": GIVE_UP}]
    selection = ("suites", "-k", "textkit-1 or textkit-2", "--agent", "mini", "--llm-config", "gpt")
    with ScriptedLLMServer({"scripts": scripts}) as server:
        port = server.port
        write_config(pytester.path / "config.toml", server.base_url)
        recorded = pytester.runpytest_subprocess(*selection, "--ohbench-llm-record", "--ohbench-run-id", "recorded")
    recorded.assert_outcomes(passed=1, failed=1)
    cassettes = sorted(p.relative_to(pytester.path / "reports" / "recorded") for p in (pytester.path / "reports" / "recorded").rglob("*.jsonl"))
    assert [str(p) for p in cassettes if p.parts[0] == "cassettes"] == [
        "cassettes/examples-swe/ohbench__textkit-1/gpt-a1.jsonl", "cassettes/examples-swe/ohbench__textkit-2/gpt-a1.jsonl"]
    # The upstream is gone; a new server on its port would see any request that still went there.
    with ScriptedLLMServer({"scripts": []}, port=port) as watcher:
        replayed = pytester.runpytest_subprocess(*selection, "--ohbench-llm-replay", "recorded", "--ohbench-run-id", "replayed")
        assert watcher.requests == []
    replayed.assert_outcomes(passed=1, failed=1)
    before, after = records(pytester, "recorded"), records(pytester, "replayed")
    keys = ("outcome", "agent_status", "input_tokens", "output_tokens", "cached_tokens", "llm_calls", "cost_usd", "tests", "patch")
    for instance in ("ohbench__textkit-1", "ohbench__textkit-2"):
        assert {k: after[instance][k] for k in keys} == {k: before[instance][k] for k in keys}
        assert (after[instance]["llm"]["replayed"], after[instance]["llm"]["upstream_requests"]) == (True, 0)
        assert before[instance]["llm"]["upstream_requests"] == before[instance]["llm_calls"] > 0
    assert after["ohbench__textkit-2"]["cost_usd"] == pytest.approx(cost(1000, 50, 200) + cost(1200, 80, 1000) + cost(1400, 20), rel=1e-9)
    assert after["ohbench__textkit-2"]["agent_reported"]["cost_usd"] == pytest.approx(after["ohbench__textkit-2"]["cost_usd"], rel=1e-9)
    assert_secret_nowhere(pytester, replayed)

    # A request the cassette does not hold: a harness error naming the item and the step.
    cassette = pytester.path / "reports" / "recorded" / "cassettes" / "examples-swe" / "ohbench__textkit-2" / "gpt-a1.jsonl"
    cassette.write_text(cassette.read_text().splitlines(keepends=True)[0])  # keep step 1 only
    cut = pytester.runpytest_subprocess("suites", "-k", "textkit-2", "--agent", "mini", "--llm-config", "gpt", "--ohbench-llm-replay", "recorded")
    cut.assert_outcomes(errors=1)
    record = records(pytester)["ohbench__textkit-2"]
    assert record["outcome"] == "infra_error"
    assert record["error"].startswith("ohbench replay: suites/swe/swe-bench.jsonl::ohbench__textkit-2 step 2: not in the cassette, which holds 1")
    missing = pytester.runpytest_subprocess(*selection, "--ohbench-llm-replay", "nowhere")
    assert missing.ret == pytest.ExitCode.USAGE_ERROR and "--ohbench-llm-replay nowhere: no run folder with cassettes" in missing.stderr.str()
