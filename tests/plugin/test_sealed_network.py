"""The sealed network, end to end: an agent's container reaches the run's LLM gateway and nothing else.

Real Docker, real agent processes, the scripted LLM server as the gateway's upstream. Each
run probes the agent's own container from inside before the agent starts
(sealed_probe.PROBE_CONFTEST): only `lo`, no route, the host's 127.0.0.1 refused (a server
the test runs there counts the connections it gets), the host's other addresses, another
container's and a public one refused at once, the agent's base_url answering through the
relay. Then the agent's own LLM calls go through it (metered) and the item is judged as
usual: `command` (a CLI of its own), OpenHands (its tree mounted), Claude Code (its tree
mounted), a CLI installed in the
image, mini (which calls its LLM from the host: its container gets no network at all), and
a Harbor task, whose `allow_internet = true` opts in to the host's network as
--ohbench-allow-internet and suite.yaml `container.network: host` do.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest
from cli_agent import CLI_TEMPLATE
from conftest import REPO_ROOT
from llm_client_image import llm_client_image
from sealed_probe import PROBE_CONFTEST, HostServer, assert_sealed, outside_targets, read_probe

from pytest_ohbench.runtime.sealed import RELAY, SOCKET_DIR
from pytest_ohbench.tools.testing.llm_server import ScriptedLLMServer

pytestmark = pytest.mark.docker
SECRET = "sk-ohbench-sealed-7c1d"
TRUNCATE_ISSUE = "truncate returns one character too many"
TOUCHING_ISSUE = "Touching intervals do not overlap"
FIX_TRUNCATE = "sed -i 's/width - len(ellipsis) + 1]/width - len(ellipsis)]/' textkit/wrap.py"
FIX_TOUCHING = ("sed -i 's/self.start < other.end and other.start < self.end/"
                "self.start <= other.end and other.start <= self.end/' intervals/core.py")


@pytest.fixture(scope="module")
def other_container(docker_client: docker.DockerClient, base_image: str) -> Iterator[docker.models.containers.Container]:
    """A container on the default bridge: a sealed container must not reach it (it only sleeps)."""
    container = docker_client.containers.run(base_image, ["sleep", "600"], detach=True, remove=True,
                                              labels={"ohbench.test": "sealed-network"})
    yield container
    container.kill()


@pytest.fixture
def host_server(monkeypatch: pytest.MonkeyPatch, docker_client: docker.DockerClient,
                other_container: docker.models.containers.Container) -> Iterator[HostServer]:
    """A server on the host's 127.0.0.1 that a sealed container must not reach (its port for the
    probe), and the other addresses the probe tries (the host's own, another container's)."""
    server = HostServer()
    monkeypatch.setenv("PROBE_HOST_PORT", str(server.port))
    monkeypatch.setenv("PROBE_TARGETS", outside_targets(docker_client, other_container, server.port))
    yield server
    server.close()


def write_config(path: Path, server: ScriptedLLMServer) -> None:
    path.write_text(f'[llm]\napi_key = "{SECRET}"\nbase_url = "{server.base_url}"\nnum_retries = 0\n\n'
                    '[llm.gpt]\nmodel = "openai/gpt-4o"\ninput_cost_per_token = 0.000001\noutput_cost_per_token = 0.000002\n')


def records(pytester: pytest.Pytester) -> dict[str, dict[str, Any]]:
    lines = (pytester.path / "reports" / "latest" / "results.jsonl").read_text().splitlines()
    return {json.loads(line)["instance_id"]: json.loads(line) for line in lines}


def socket_folders() -> set[Path]:
    """The gateways' unix socket folders on this host (gateway/http_server.py)."""
    return set(Path(tempfile.gettempdir()).glob("ohbench-gw-*"))


def assert_relay_mounted(probe: dict[str, Any]) -> None:
    """`--network none`, the relay and the gateway's socket folder mounted read-only."""
    assert probe["network_mode"] == "none"
    assert (probe["mounts"].get(RELAY), probe["mounts"].get(SOCKET_DIR)) == (False, False), probe["mounts"]


def run_sealed(pytester: pytest.Pytester, scripts: list[dict[str, Any]], *args: str) -> tuple[pytest.RunResult, list[dict]]:
    """One pytester run with the probe conftest; the requests the scripted server answered."""
    pytester.makeconftest(PROBE_CONFTEST)
    with ScriptedLLMServer({"scripts": scripts}) as server:
        write_config(pytester.path / "config.toml", server)
        result = pytester.runpytest_subprocess("suites", "--llm-config", "gpt", *args)
        requests = list(server.requests)
    return result, requests


def test_the_command_agent_reaches_the_gateway_and_nothing_else(
    pytester: pytest.Pytester, swe_suite: Path, base_image: str, host_server: HostServer
) -> None:
    """Two items on two xdist workers at once: each container has its own relay on one run socket."""
    before = socket_folders()
    scripts = [{"match": TRUNCATE_ISSUE, "responses": [{"content": FIX_TRUNCATE}]},
               {"match": TOUCHING_ISSUE, "responses": [{"content": FIX_TOUCHING}]}]
    result, requests = run_sealed(pytester, scripts, "-k", "textkit-2 or intervals-1", "-n", "2",
                                  "--agent", "command", "--ohbench-command", CLI_TEMPLATE)
    result.assert_outcomes(passed=2)
    assert len(requests) == 2 and not any(r.get("exhausted") for r in requests)
    for record in records(pytester).values():
        assert (record["outcome"], record["agent_status"], record["network"]) == ("resolved", "finished", "sealed")
        probe = read_probe(pytester.path, record)
        assert_sealed(probe)
        assert_relay_mounted(probe)
    assert host_server.connections == 0
    assert socket_folders() - before == set()  # the run's socket folder went with its gateway


@dataclass
class CliCase:
    """An installed CLI agent: its options, what the scripted LLM answers it, the image it needs."""

    args: list[str]
    responses: list[dict[str, Any]]
    needs_llm_client_image: bool = False
    script_keys: dict[str, Any] | None = None  # e.g. {"tools": [...]} for an agent with its own tools


def call_step(tool: str, **arguments: str) -> dict[str, Any]:
    """An answer that calls one of an installed agent's own tools."""
    return {"content": "Fixing.", "tool_calls": [{"name": tool, "arguments": arguments}]}


# Installed CLI agents: the real ones from their trees, each on its own protocol and tools,
# and a CLI of the image's own install, `llm-client` on the openai package
# (tests/llm_client_image.py), asking once plainly and once streamed.
INSTALLED_CLI_AGENTS = [
    pytest.param(CliCase(["--agent", "command", "--ohbench-command", "llm-client {prompt_file}"],
                         [{"content": FIX_TRUNCATE}, {"content": "DONE"}], needs_llm_client_image=True),
                 id="llm-client-in-the-image"),
    pytest.param(CliCase(["--agent", "claude-code"], [call_step("Bash", command=FIX_TRUNCATE), {"content": "Fixed."}],
                         script_keys={"tools": ["Bash", "Edit"]}), id="claude-code"),
    pytest.param(CliCase(["--agent", "gemini-cli"], [call_step("run_shell_command", command=FIX_TRUNCATE), {"content": "Done."}],
                         script_keys={"tools": ["run_shell_command", "replace"]}), id="gemini-cli"),
    # Qwen Code's shell refuses to change a file it has not read: read_file, then its edit tool.
    pytest.param(CliCase(["--agent", "qwen-code"], [call_step("read_file", file_path="/testbed/textkit/wrap.py"),
                                                    call_step("edit", file_path="/testbed/textkit/wrap.py",
                                                              old_string="width - len(ellipsis) + 1]", new_string="width - len(ellipsis)]"),
                                                    {"content": "Done."}],
                         script_keys={"tools": ["run_shell_command", "edit"]}), id="qwen-code"),
    pytest.param(CliCase(["--agent", "aider"], [  # aider's diff format: it adds the file named, then edits it
        {"content": "The slice is in textkit/wrap.py, please add it to the chat."},
        {"content": "textkit/wrap.py\n```python\n<<<<<<< SEARCH\n    return text[: width - len(ellipsis) + 1] + ellipsis\n"
                    "=======\n    return text[: width - len(ellipsis)] + ellipsis\n>>>>>>> REPLACE\n```\n"}],
        script_keys={"tools": []}), id="aider"),
    # Codex at a model it has no metadata for (gpt-4o): its fallback tools, exec_command among them.
    pytest.param(CliCase(["--agent", "codex"], [{"content": "Fix it.", "tool_calls": [{"name": "exec_command", "arguments": {"cmd": FIX_TRUNCATE}}]},
                                                {"content": "Done."}], script_keys={"tools": ["exec_command"]}), id="codex"),
    pytest.param(CliCase(["--agent", "opencode"], [{"content": "Fix it.", "tool_calls": [{"name": "bash", "arguments": {
        "command": FIX_TRUNCATE, "description": "Fix the slice"}}]}, {"content": "Done."}], script_keys={"tools": ["bash"]}), id="opencode"),
]


@pytest.mark.parametrize("case", INSTALLED_CLI_AGENTS)
def test_an_installed_cli_agent_reaches_the_gateway_and_nothing_else(
    pytester: pytest.Pytester, swe_suite: Path, docker_client: docker.DockerClient, base_image: str,
    host_server: HostServer, case: CliCase,
) -> None:
    if case.needs_llm_client_image:
        suite_yaml = swe_suite / "suite.yaml"
        image = llm_client_image(docker_client, base_image)
        suite_yaml.write_text(suite_yaml.read_text().replace("base: ohbench/base:trixie", f"base: {image}"))
    scripts = [{"match": TRUNCATE_ISSUE, "responses": case.responses, **(case.script_keys or {})}]
    result, requests = run_sealed(pytester, scripts, "-k", "textkit-2", *case.args)
    result.assert_outcomes(passed=1)
    assert len(requests) == len(case.responses) and not any(r.get("exhausted") for r in requests)
    record = records(pytester)["ohbench__textkit-2"]
    assert (record["outcome"], record["llm_calls"]) == ("resolved", len(case.responses))
    probe = read_probe(pytester.path, record)
    assert_sealed(probe)
    assert_relay_mounted(probe)
    assert host_server.connections == 0


@pytest.mark.parametrize("opt_in", ["suite.yaml", "--ohbench-allow-internet"])
def test_the_suite_or_the_run_opts_in_to_the_host_s_network(
    pytester: pytest.Pytester, swe_suite: Path, base_image: str, host_server: HostServer, opt_in: str
) -> None:
    """The host's loopback (and whatever else the host reaches) is reachable, and the record says so."""
    args = ["-k", "textkit-2", "--agent", "command", "--ohbench-command", CLI_TEMPLATE]
    if opt_in == "suite.yaml":
        suite_yaml = swe_suite / "suite.yaml"
        suite_yaml.write_text(suite_yaml.read_text().replace("network: none", "network: host"))
    else:
        args.append(opt_in)
    scripts = [{"match": TRUNCATE_ISSUE, "responses": [{"content": FIX_TRUNCATE}]}]
    result, _ = run_sealed(pytester, scripts, *args)
    result.assert_outcomes(passed=1)
    record = records(pytester)["ohbench__textkit-2"]
    probe = read_probe(pytester.path, record)
    assert (record["network"], probe["network_mode"]) == ("host", "host") and RELAY not in probe["mounts"]
    assert probe["interfaces"] != "lo" and "CONNECTED" in probe["host_loopback_server"]
    assert host_server.connections >= 1


def mini_step(command: str) -> dict[str, Any]:
    return {"content": "thinking", "tool_calls": [{"name": "bash", "arguments": {"command": command}}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 10}}


def assert_no_network(probe: dict[str, Any]) -> None:
    assert (probe["network_mode"], probe["interfaces"], probe["routes"]) == ("none", "lo", "0"), probe["raw"]
    assert RELAY not in probe["mounts"] and probe["gateway"] == "no connection", probe["raw"]


def test_agents_that_call_no_llm_from_their_container_keep_no_network_at_all(
    pytester: pytest.Pytester, swe_suite: Path, base_image: str, host_server: HostServer
) -> None:
    """mini calls its LLM from the host: its container has no network, though the run has a gateway;
    `command` without --llm-config has no gateway to reach: no network either."""
    submit = "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT && cat patch.txt"
    steps = [mini_step(FIX_TRUNCATE + " && git diff -- textkit/wrap.py > patch.txt"), mini_step(submit)]
    result, requests = run_sealed(pytester, [{"match": TRUNCATE_ISSUE, "responses": steps}], "-k", "textkit-2", "--agent", "mini")
    result.assert_outcomes(passed=1)
    assert len(requests) == 2
    record = records(pytester)["ohbench__textkit-2"]
    assert (record["network"], record["llm_calls"]) == ("none", 2)
    assert_no_network(read_probe(pytester.path, record))

    result = pytester.runpytest_subprocess("suites", "-k", "textkit-2", "--agent", "command", "--ohbench-command", FIX_TRUNCATE)
    result.assert_outcomes(passed=1)
    record = records(pytester)["ohbench__textkit-2"]
    assert record["network"] == "none"
    assert_no_network(read_probe(pytester.path, record))
    assert host_server.connections == 0


def openhands_call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"content": f"calling {name}", "tool_calls": [{"name": name, "arguments": arguments}],
            "usage": {"prompt_tokens": 1000, "completion_tokens": 50}}


def test_openhands_reaches_the_gateway_and_nothing_else(
    pytester: pytest.Pytester, swe_suite: Path, base_image: str, host_server: HostServer
) -> None:
    """OpenHands in its mounted tree: its LLM calls go through the relay, metered; nothing else leads out."""
    steps = [openhands_call("execute_bash", command=f"cd /testbed && {FIX_TRUNCATE}"),
             openhands_call("finish", message="Fixed truncate.", task_completed="true")]
    result, requests = run_sealed(pytester, [{"match": TRUNCATE_ISSUE, "responses": steps}], "-k", "textkit-2",
                                  "--agent", "openhands")
    result.assert_outcomes(passed=1)
    assert len(requests) == 2 and not any(r.get("exhausted") for r in requests)
    record = records(pytester)["ohbench__textkit-2"]
    assert (record["outcome"], record["network"], record["llm_calls"], record["input_tokens"]) == ("resolved", "sealed", 2, 2000)
    probe = read_probe(pytester.path, record)
    assert_sealed(probe)
    assert_relay_mounted(probe)
    assert host_server.connections == 0


def test_a_harbor_task_is_sealed_unless_it_allows_the_internet(
    pytester: pytest.Pytester, base_image: str, host_server: HostServer
) -> None:
    """The bundled fix-median says `allow_internet = false`: sealed; with true, the host's network."""
    task_dir = pytester.path / "suites" / "harbor"
    shutil.copytree(REPO_ROOT / "suites" / "examples" / "harbor", task_dir)
    solution = (task_dir / "fix-median" / "solution" / "solve.sh").read_text()
    scripts = [{"match": "gives wrong answers", "responses": [{"content": solution}]}]
    args = ("-k", "fix-median", "--agent", "command", "--ohbench-command", CLI_TEMPLATE)
    result, requests = run_sealed(pytester, scripts, *args)
    result.assert_outcomes(passed=1)
    record = records(pytester)["fix-median"]
    assert (record["outcome"], record["network"], record["llm_calls"], len(requests)) == ("resolved", "sealed", 1, 1)
    assert_sealed(read_probe(pytester.path, record))

    toml = task_dir / "fix-median" / "task.toml"
    toml.write_text(toml.read_text().replace("allow_internet = false", "allow_internet = true"))
    result, _ = run_sealed(pytester, scripts, *args)
    result.assert_outcomes(passed=1)
    record = records(pytester)["fix-median"]
    probe = read_probe(pytester.path, record)
    assert (record["network"], probe["network_mode"]) == ("host", "host") and "CONNECTED" in probe["host_loopback_server"]
