"""What the installed agents' real-run tests share: a scripted fix and a wrong edit of two
SWE items, run on a bookworm task image through the gateway, and the checks every agent passes."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import docker
import pytest
from conftest import run_output
from test_openhands import SECRET, TOUCHING_ISSUE, TRUNCATE_ISSUE, assert_no_secret

from pytest_ohbench.agents.base import AgentSettings, BaseAgent, TrajectoryStep
from pytest_ohbench.agents.trajectory import read_log, validate
from pytest_ohbench.tools.testing.llm_server import ScriptedLLMServer, credential_hash

INPUT_PRICE, OUTPUT_PRICE = 0.000003, 0.000015
SOLVED_TEXTS = ["Where is the slice?", "Read it.", "One too many.", "Fixed truncate."]  # the texts of a solving script
SOLVED_COMMAND = "grep -n ellipsis textkit/wrap.py && python3 --version"  # its first call, in the agent's shell tool


Call = tuple[str, dict[str, Any]]  # a tool call: the agent's tool name, its arguments


@dataclasses.dataclass(frozen=True)
class Tools:
    """An agent's own shell, read and edit tools: their names, and the edit's extra arguments."""

    shell: str  # takes {command}
    read: str  # takes {file_path}
    edit: str  # takes {file_path, old_string, new_string}
    edit_extra: tuple[tuple[str, str], ...] = ()  # e.g. Gemini CLI's instruction

    def names(self) -> list[str]:
        return [self.shell, self.read, self.edit]

    def run(self, command: str) -> Call:
        return self.shell, {"command": command}

    def open(self, path: str) -> Call:
        return self.read, {"file_path": path}

    def change(self, path: str, old: str, new: str) -> Call:
        return self.edit, {"file_path": path, "old_string": old, "new_string": new, **dict(self.edit_extra)}


def step(prompt: int, completion: int, text: str, call: Call | None = None, cached: int = 0) -> dict[str, Any]:
    """One scripted answer: its text, at most one tool call, its usage (`cached` of the `prompt` tokens read from the cache)."""
    usage = {"prompt_tokens": prompt, "completion_tokens": completion, "cached_tokens": cached}
    response: dict[str, Any] = {"content": text, "usage": usage}
    if call:
        response["tool_calls"] = [{"name": call[0], "arguments": call[1]}]
    return response


def solve_truncate(tools: Tools) -> list[dict[str, Any]]:
    """textkit-2 fixed in four answers (4700 tokens in, 400 of them cached, 170 out): grep, read, edit, done."""
    return [
        step(1000, 50, SOLVED_TEXTS[0], tools.run(SOLVED_COMMAND)),
        step(1100, 20, SOLVED_TEXTS[1], tools.open("/testbed/textkit/wrap.py"), cached=400),  # the agent's input counts them
        step(1200, 80, SOLVED_TEXTS[2], tools.change("/testbed/textkit/wrap.py", "width - len(ellipsis) + 1]", "width - len(ellipsis)]")),
        step(1400, 20, SOLVED_TEXTS[3]),
    ]


def wrong_touching(tools: Tools) -> list[dict[str, Any]]:
    """intervals-1 half fixed in three answers (2400 in, 70 out): one side of the comparison, touching intervals still apart."""
    return [
        step(700, 20, "Read it.", tools.open("/testbed/intervals/core.py")),
        step(800, 40, "Half a fix.", tools.change("/testbed/intervals/core.py", "self.start < other.end and", "self.start <= other.end and")),
        step(900, 10, "Done."),
    ]


@dataclasses.dataclass
class InstalledRun:
    """A finished run: the requests the scripted server saw, the run's folder, its two records."""

    requests: list[dict[str, Any]]
    run: Path
    solved: dict[str, Any]  # textkit-2, fixed
    wrong: dict[str, Any]  # intervals-1, half fixed
    pytester: pytest.Pytester
    docker_client: docker.DockerClient

    def log_dir(self) -> Path:
        return self.pytester.path / self.solved["log_dir"]

    def check(self, agent: type[BaseAgent]) -> list[TrajectoryStep]:
        """check_run for `agent`: the solved item's trajectory steps."""
        return check_run(self.pytester, self.docker_client, self, agent)


def run_two_items(request: pytest.FixtureRequest, agent: str, model: str, tools: Tools, section: str = "") -> InstalledRun:
    """`agent` at `model` in a bookworm task image (the test's fixtures: pytester, swe_suite, old_debian_images,
    docker_client): textkit-2 solved, intervals-1 half fixed with its own tools; one passes, one fails.
    `section` adds lines to the model's config.toml section."""
    pytester: pytest.Pytester = request.getfixturevalue("pytester")
    swe_suite: Path = request.getfixturevalue("swe_suite")
    image: str = request.getfixturevalue("old_debian_images")[0]
    docker_client: docker.DockerClient = request.getfixturevalue("docker_client")
    suite_yaml = swe_suite / "suite.yaml"
    suite_yaml.write_text(suite_yaml.read_text().replace("base: ohbench/base:trixie", f"base: {image}"))
    scripts = [{"match": TRUNCATE_ISSUE, "tools": tools.names(), "responses": solve_truncate(tools)},
               {"match": TOUCHING_ISSUE, "tools": tools.names(), "responses": wrong_touching(tools)}]
    done = run_scripted(pytester, swe_suite, image, agent, scripts, model, (INPUT_PRICE, OUTPUT_PRICE), SECRET, section)
    done.result.assert_outcomes(passed=1, failed=1)
    # Every call came through the gateway: the real key put back in the protocol's header (as is, or after "Bearer ").
    keys = {r["auth_sha256"] for r in done.requests}
    assert keys in ({credential_hash(SECRET)}, {credential_hash(f"Bearer {SECRET}")})
    return InstalledRun(done.requests, done.folder, done.records["ohbench__textkit-2"], done.records["ohbench__intervals-1"],
                        pytester, docker_client)


@dataclasses.dataclass
class ScriptedRun:
    """A finished run of any scripts: pytest's result, the requests, the records by instance, the run folder."""

    result: pytest.RunResult
    requests: list[dict[str, Any]]  # what the scripted LLM was asked (those with a body)
    records: dict[str, dict[str, Any]]  # results.jsonl by instance id
    folder: Path  # the run folder


def run_scripted(pytester: pytest.Pytester, swe_suite: Path, image: str, agent: str, scripts: list[dict[str, Any]],
                 model: str, prices: tuple[float, float], secret: str, section: str = "") -> ScriptedRun:
    """`agent` on textkit-2 and intervals-1 with task image `image`, the `scripts` answering as `model` at `prices`
    (`section`: more lines of the config section), two items at once."""
    suite_yaml = swe_suite / "suite.yaml"
    suite_yaml.write_text(suite_yaml.read_text().replace("base: ohbench/base:trixie", f"base: {image}"))
    with ScriptedLLMServer({"scripts": scripts}) as server:
        (pytester.path / "config.toml").write_text(
            f'[llm.under-test]\nmodel = "{model}"\napi_key = "{secret}"\nbase_url = "{server.base_url}"\n'
            f"input_cost_per_token = {prices[0]}\noutput_cost_per_token = {prices[1]}\n{section}"
        )
        result = pytester.runpytest_subprocess("suites", "--agent", agent, "--llm-config", "under-test",
                                               "-k", "textkit-2 or intervals-1", "-n", "2")
        requests = [r for r in server.requests if r.get("body")]
    folder = pytester.path / "reports" / "latest"
    records = {json.loads(line)["instance_id"]: json.loads(line) for line in (folder / "results.jsonl").read_text().splitlines()}
    return ScriptedRun(result, requests, records, folder)


def assert_two_records(records: dict[str, dict[str, Any]], agent: str, solved_figures: tuple[int, int, int],
                       wrong_figures: tuple[int, int, int]) -> dict[str, Any]:
    """textkit-2 resolved and intervals-1 unresolved by its half fix, each at the gateway's exact
    (prompt, completion, calls) and cost at the section's prices: the solved record."""
    solved, wrong = records["ohbench__textkit-2"], records["ohbench__intervals-1"]
    assert (solved["outcome"], solved["agent_status"], solved["agent"]) == ("resolved", "finished", agent)
    assert (wrong["outcome"], wrong["agent_status"]) == ("unresolved", "finished")
    for record, (prompt, completion, calls) in ((solved, solved_figures), (wrong, wrong_figures)):
        assert (record["input_tokens"], record["output_tokens"], record["llm_calls"]) == (prompt, completion, calls)
        assert record["cost_usd"] == pytest.approx(prompt * INPUT_PRICE + completion * OUTPUT_PRICE, rel=1e-9)
    assert solved["agent_reported"]["input_tokens"] == solved_figures[0]  # the agent's own count agrees
    assert "-    return text[: width - len(ellipsis) + 1] + ellipsis" in solved["patch"]
    assert "+        return self.start <= other.end and other.start < self.end" in wrong["patch"]
    return solved


def assert_trajectory(run: Path, log_dir: Path, steps: list[TrajectoryStep], version: str) -> None:
    """The first step ran the grep with the image's own tools; the steps are trajectory.json's (valid
    ATIF, the agent's version), report.html shows them and run.json has the version."""
    assert steps[0].commands == ["grep -n ellipsis textkit/wrap.py && python3 --version"]
    assert "width - len(ellipsis) + 1" in steps[0].outputs[0] and "Python 3.11" in steps[0].outputs[0]
    atif = json.loads((log_dir / "trajectory.json").read_text())
    assert validate(atif) == [] and atif["agent"]["version"] == version
    assert [step["message"] for step in atif["steps"] if step["source"] == "agent"] == [s.text for s in steps]
    page = (run / "report.html").read_text()
    assert "ohbench-trajectory" in page and "grep -n ellipsis textkit/wrap.py &amp;&amp; python3 --version" in page
    assert json.loads((run / "run.json").read_text())["agent_version"] == version


def check_run(pytester: pytest.Pytester, docker_client: docker.DockerClient, outcome: InstalledRun,
              agent: type[BaseAgent]) -> list[TrajectoryStep]:
    """Statuses, exact tokens and cost, the patches, the trajectory, the report, the old glibc.

    Returns the solved item's trajectory steps, for the agent's own checks."""
    solved_tokens, wrong_tokens = (4700, 170, 4), (2400, 70, 3)  # input, output, calls of the two scripts
    version = agent(AgentSettings()).agent_version()  # the default release
    records = {"ohbench__textkit-2": outcome.solved, "ohbench__intervals-1": outcome.wrong}
    solved = assert_two_records(records, agent.name, solved_tokens, wrong_tokens)
    assert solved["agent_reported"]["llm_calls"] == solved_tokens[2]
    assert solved["cached_tokens"] == 400 and solved["agent_reported"]["cached_tokens"] == 400
    # Its event log is the trajectory; its commands ran with the image's own tools.
    log_dir = outcome.log_dir()
    steps = agent.trajectory_steps(read_log(log_dir / agent.raw_log))
    assert [s.text for s in steps] == SOLVED_TEXTS
    assert_trajectory(outcome.run, log_dir, steps, version)
    shown = run_output(docker_client, solved["image"], ["sh", "-c", "ldd --version | head -n1; command -v node || echo no node"])
    assert "2.36" in shown.decode() and "no node" in shown.decode()  # older than the tree's glibc 2.41, and no Node.js
    assert_no_secret(pytester)
    return steps


def run_past_max_steps(pytester: pytest.Pytester, swe_suite: Path, agent: str, model: str, tools: Tools) -> dict[str, Any]:
    """`agent` on textkit-2 with --ohbench-max-steps 2 (its script needs 4 answers): the record, its status max_steps."""
    scripts = [{"match": TRUNCATE_ISSUE, "tools": tools.names(), "responses": solve_truncate(tools)}]
    with ScriptedLLMServer({"scripts": scripts}) as server:
        (pytester.path / "config.toml").write_text(
            f'[llm.under-test]\nmodel = "{model}"\napi_key = "{SECRET}"\nbase_url = "{server.base_url}"\n'
        )
        result = pytester.runpytest_subprocess("suites", "--agent", agent, "--llm-config", "under-test", "-k", "textkit-2",
                                               "--ohbench-max-steps", "2")
    result.assert_outcomes(failed=1)
    record: dict[str, Any] = json.loads((pytester.path / "reports" / "latest" / "results.jsonl").read_text().splitlines()[0])
    assert record["agent_status"] == "max_steps"
    return record
