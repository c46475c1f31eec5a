"""LLM-driven agents end to end: a scripted LLM on 127.0.0.1, real containers, real grading."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cli_agent import CLI_TEMPLATE

from pytest_ohbench.agents.trajectory import validate
from pytest_ohbench.tools.testing.llm_server import ScriptedLLMServer, credential_hash

pytestmark = pytest.mark.docker
SECRET = "sk-ohbench-NEVER-WRITE-7f3a9c"
TRUNCATE_ISSUE = "truncate returns one character too many"
FIX = "sed -i 's/width - len(ellipsis) + 1]/width - len(ellipsis)]/' textkit/wrap.py"
SUBMIT = "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"


def bash(command: str, prompt: int, completion: int, cached: int = 0) -> dict[str, Any]:
    return {"content": "thinking", "tool_calls": [{"name": "bash", "arguments": {"command": command}}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "cached_tokens": cached}}


# mini-swe-agent's protocol: fix, write the patch to patch.txt, submit it with `cat patch.txt`.
# The scratch script and patch.txt stay in the workspace; what is graded is the submission.
SOLVE = [
    bash("cat textkit/wrap.py", 1000, 50),
    bash(FIX + "; python3 -m pytest -q tests/test_wrap.py; echo 'print(1)' > reproduce.py; "
         "git diff -- textkit/wrap.py > patch.txt", 1200, 80, 1000),
    bash(SUBMIT + " && cat patch.txt", 1400, 20),
]
GIVE_UP = [bash("ls", 900, 10), bash(SUBMIT, 950, 5)]


def write_config(path: Path, server: ScriptedLLMServer) -> None:
    path.write_text(f"""\
[llm]
api_key = "{SECRET}"
base_url = "{server.base_url}"
num_retries = 0

[llm.gpt]
model = "openai/gpt-4o"
input_cost_per_token = 0.000001
output_cost_per_token = 0.000002

[llm.claude]
model = "openai/claude-x"
input_cost_per_token = 0.000003
output_cost_per_token = 0.000015
""")


def records(pytester: pytest.Pytester) -> dict[str, dict]:
    lines = (pytester.path / "reports" / "latest" / "results.jsonl").read_text().splitlines()
    return {json.loads(line)["nodeid"].split("::")[1]: json.loads(line) for line in lines}


def assert_secret_nowhere(pytester: pytest.Pytester, result: pytest.RunResult) -> None:
    written = [p for p in (pytester.path / "reports").rglob("*") if p.is_file()]
    assert written
    leaking = [str(p) for p in written if SECRET.encode() in p.read_bytes()]
    assert leaking == []
    assert SECRET not in result.stdout.str() + result.stderr.str()


# An `openai/` model at a base_url goes through the light client; another provider prefix
# (here litellm's hosted_vllm, also OpenAI-compatible) through litellm. Same request, same record.
@pytest.mark.parametrize(("model", "model_type"), [
    ("openai/gpt-4o", "pytest_ohbench.OpenAIChatModel"),
    ("hosted_vllm/gpt-4o", "pytest_ohbench.agents.mini.PricedLitellmModel"),
])
def test_mini_solves_an_instance_and_costs_what_the_script_says(
    pytester: pytest.Pytester, swe_suite: Path, base_image: str, model: str, model_type: str
) -> None:
    script = {"scripts": [{"match": TRUNCATE_ISSUE, "model": "gpt-4o", "responses": SOLVE}]}
    with ScriptedLLMServer(script) as server:
        write_config(pytester.path / "config.toml", server)
        config = pytester.path / "config.toml"
        config.write_text(config.read_text().replace('model = "openai/gpt-4o"', f'model = "{model}"'))
        result = pytester.runpytest_subprocess("suites", "-k", "textkit-2", "--agent", "mini", "--llm-config", "llm.gpt")
    result.assert_outcomes(passed=1)
    record = records(pytester)["ohbench__textkit-2"]
    assert (record["outcome"], record["agent_status"], record["model"]) == ("resolved", "finished", "gpt")
    assert (record["input_tokens"], record["output_tokens"], record["cached_tokens"]) == (3600, 150, 1000)
    assert (record["llm_calls"], record["agent_steps"]) == (3, 3)
    assert record["cost_usd"] == pytest.approx(3600 * 0.000001 + 150 * 0.000002, rel=1e-12)
    # Metered by the gateway; mini's own accounting kept beside it, and equal.
    assert record["llm"]["upstream_requests"] == 3 and record["agent_reported"]["llm_calls"] == 3
    assert record["agent_reported"]["cost_usd"] == pytest.approx(record["cost_usd"], rel=1e-12)
    assert {r["auth_sha256"] for r in server.requests} == {credential_hash(f"Bearer {SECRET}")}
    assert "len(ellipsis)]" in record["patch"] and "+ 1]" in record["patch"]
    # The submitted patch, not the workspace: no patch.txt, no scratch script.
    assert record["patch"].startswith("diff --git a/textkit/wrap.py b/textkit/wrap.py")
    assert "patch.txt" not in record["patch"] and "reproduce.py" not in record["patch"]
    own = json.loads((pytester.path / record["log_dir"] / "mini.traj.json").read_text())
    assert own["info"]["exit_status"] == "Submitted"
    assert own["info"]["config"]["model_type"].endswith(model_type)
    assert any(FIX in json.dumps(m) for m in own["messages"])
    assert_atif_matches_record(pytester.path / record["log_dir"] / "trajectory.json", record)
    # report.html shows the item's steps from that file: commands, outputs, tokens.
    page = (pytester.path / "reports" / "latest" / "report.html").read_text()
    assert "$ cat textkit/wrap.py" in page and "[agent] 1000 in / 50 out, $0.0011" in page
    assert "3 agent steps, 3600 tokens in / 150 out, $0.0039" in page
    assert_secret_nowhere(pytester, result)


def assert_atif_matches_record(path: Path, record: dict[str, Any]) -> None:
    """trajectory.json is valid ATIF, holds the script's steps, and its tokens and cost add up
    to what the gateway metered for the item."""
    trajectory = json.loads(path.read_text())
    assert validate(trajectory) == []
    assert trajectory["schema_version"] == "ATIF-v1.4"
    assert trajectory["agent"]["name"] == "mini" and trajectory["agent"]["model_name"] == "gpt"
    assert trajectory["extra"]["raw_log"] == "mini.traj.json"
    steps = trajectory["steps"]
    assert [s["source"] for s in steps] == ["system", "user", "agent", "agent", "agent"]
    assert TRUNCATE_ISSUE in steps[1]["message"]
    agent_steps = steps[2:]
    assert [s["tool_calls"][0]["arguments"]["command"] for s in agent_steps] == [
        r["tool_calls"][0]["arguments"]["command"] for r in SOLVE
    ]
    # Each command's output answers its call.
    assert "def truncate" in agent_steps[0]["observation"]["results"][0]["content"]
    assert agent_steps[0]["observation"]["results"][0]["source_call_id"] == agent_steps[0]["tool_calls"][0]["tool_call_id"]
    assert [s["metrics"]["prompt_tokens"] for s in agent_steps] == [1000, 1200, 1400]
    totals = trajectory["final_metrics"]
    assert totals["total_steps"] == 3
    assert (totals["total_prompt_tokens"], totals["total_completion_tokens"], totals["total_cached_tokens"]) == (
        record["input_tokens"], record["output_tokens"], record["cached_tokens"])
    assert sum(s["metrics"]["cost_usd"] for s in agent_steps) == pytest.approx(record["cost_usd"], rel=1e-9)
    assert totals["total_cost_usd"] == pytest.approx(record["cost_usd"], rel=1e-9)
    assert trajectory["extra"]["metered"]["input_tokens"] == record["input_tokens"]


def test_two_models_run_side_by_side_with_their_own_costs(pytester: pytest.Pytester, swe_suite: Path, base_image: str) -> None:
    script = {"scripts": [
        {"match": TRUNCATE_ISSUE, "model": "gpt-4o", "responses": SOLVE},
        {"match": TRUNCATE_ISSUE, "model": "claude-x", "responses": GIVE_UP},
    ]}
    with ScriptedLLMServer(script) as server:
        write_config(pytester.path / "config.toml", server)
        result = pytester.runpytest_subprocess(
            "suites", "-k", "textkit-2", "--agent", "mini", "--llm-config", "gpt", "--llm-config", "llm.claude", "-n", "2"
        )
    result.assert_outcomes(passed=1, failed=1)
    by_item = records(pytester)
    assert set(by_item) == {"ohbench__textkit-2[gpt]", "ohbench__textkit-2[claude]"}
    gpt, claude = by_item["ohbench__textkit-2[gpt]"], by_item["ohbench__textkit-2[claude]"]
    assert (gpt["outcome"], claude["outcome"]) == ("resolved", "empty_patch")
    assert claude["cost_usd"] == pytest.approx(1850 * 0.000003 + 15 * 0.000015, rel=1e-12)
    assert gpt["cost_usd"] == pytest.approx(0.0039, rel=1e-12)
    assert_secret_nowhere(pytester, result)


def test_unreachable_llm_is_an_agent_error(pytester: pytest.Pytester, swe_suite: Path, base_image: str) -> None:
    with ScriptedLLMServer({"scripts": []}) as server:
        write_config(pytester.path / "config.toml", server)
    # The server is stopped: nothing listens on its port any more.
    result = pytester.runpytest_subprocess("suites", "-k", "textkit-1", "--agent", "mini", "--llm-config", "gpt")
    result.assert_outcomes(errors=1)
    record = records(pytester)["ohbench__textkit-1"]
    assert record["outcome"] == "agent_error" and record["error"].startswith("mini: ")
    # Connection refused is final: the item fails at once, not after minutes of retries.
    assert "unreachable (ConnectionRefusedError" in record["error"] and record["durations"]["total"] < 30
    assert_secret_nowhere(pytester, result)


def test_unknown_section_is_a_usage_error(pytester: pytest.Pytester, swe_suite: Path) -> None:
    (pytester.path / "config.toml").write_text('[llm]\nmodel = "m"\n[llm.gpt]\nmodel = "openai/gpt-4o"\n')
    result = pytester.runpytest_subprocess("suites", "--agent", "mini", "--llm-config", "llm.o3")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "ERROR: --llm-config llm.o3: " in result.stderr.str()
    assert "config.toml: no section [llm.o3] (sections: llm, llm.gpt)" in result.stderr.str()


def test_command_agent_runs_a_cli_in_the_container(pytester: pytest.Pytester, swe_suite: Path, base_image: str) -> None:
    script = {"scripts": [{"match": TRUNCATE_ISSUE, "responses": [{"content": FIX}]}]}
    with ScriptedLLMServer(script) as server:
        write_config(pytester.path / "config.toml", server)
        result = pytester.runpytest_subprocess(
            "suites", "-k", "textkit-2", "--agent", "command", "--llm-config", "gpt",
            "--ohbench-command", CLI_TEMPLATE,
        )
        assert [r.get("body", {}).get("model") for r in server.requests] == ["openai/gpt-4o"]
        # The CLI's LLM_API_KEY was its token; the gateway sent the real key upstream.
        assert [r["auth_sha256"] for r in server.requests] == [credential_hash(f"Bearer {SECRET}")]
    result.assert_outcomes(passed=1)
    record = records(pytester)["ohbench__textkit-2"]
    assert "running: sed -i" in (pytester.path / record["log_dir"] / "agent.log").read_text()
    assert_secret_nowhere(pytester, result)
