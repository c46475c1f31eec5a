"""The script check: judge the agent's outputs where they are, with files it never saw.

Prompt tasks, GitTaskBench tasks and Harbor tasks are judged the same way: once the agent
has finished, the check files (a check script, ground truth, a `tests/` folder) are copied
into the agent's container, where its outputs live, and a command runs there. How the
verdict is read differs by `verdict`:

- `exit_code` (prompt tasks): pass iff every expected output exists and the command exits 0;
- `gittaskbench`: the test script appends a JSON line with `Process`, `Result` and
  `comments` to a result file; pass iff `Result` is true (no line: a fail, not an error);
- `harbor`: `tests/test.sh` writes `/logs/verifier/reward.json` (named rewards) or
  `reward.txt` (one number); pass iff the reward is at least 1 (no reward: a fail).

A task with no check at all passes iff the agent finished with success. Agents that need no
container (noop) are judged in a fresh one holding the task's inputs, as they left it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import re
import shlex
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import Any

from pytest_ohbench.agents.base import AgentResult, AgentStatus
from pytest_ohbench.core.errors import HarnessError, last_line
from pytest_ohbench.core.outcomes import Outcome
from pytest_ohbench.core.task import CheckSpec, InputFile
from pytest_ohbench.kinds.base import CheckContext, CheckResult
from pytest_ohbench.runtime.base import ExecResult, Runtime, host_path
from pytest_ohbench.runtime.workspace import copy_inputs

CHECK_DIR = "/ohbench/check"  # where a prompt task's check files arrive
VERDICTS = ("exit_code", "gittaskbench", "harbor")
PLACEHOLDER = re.compile(r"\{(workspace|check_dir|output)\}")
OUTPUT_TAIL = 2000  # characters of check output kept in the record (the full text is in the log)


@dataclasses.dataclass
class ScriptCheckSpec(CheckSpec):
    """A check run in the workspace after the agent: check files copied in, a command, a verdict.

    `command` is a template: `{workspace}` and `{check_dir}` (prompt tasks), `{output}` (the
    GitTaskBench output the script grades). Targets of `files` are absolute or relative to
    the workspace; `clear` paths are deleted first, so nothing the agent planted there counts.
    """

    command: str = ""  # "" and no expected outputs: no check (pass iff the agent succeeded)
    files: list[InputFile] = dataclasses.field(default_factory=list)
    verdict: str = "exit_code"  # one of VERDICTS
    expected_outputs: list[str] = dataclasses.field(default_factory=list)  # relative to the workspace
    clear: list[str] = dataclasses.field(default_factory=list)
    env: dict[str, str] = dataclasses.field(default_factory=dict)
    timeout: float | None = None  # beats the suite's timeouts.tests
    result_path: str = ""  # gittaskbench: the JSONL the script appends to; harbor: the verifier folder
    output_dir: str = ""  # gittaskbench: the folder of the agent's outputs
    multi_output: bool = False  # gittaskbench: grade the whole output folder, not one file

    @property
    def empty(self) -> bool:
        """True when the task has no check: the agent's own status decides."""
        return not self.command and not self.expected_outputs


def agent_succeeded(result: AgentResult) -> bool:
    """The agent finished and, if it is a process, exited 0 (run_batch's `success`)."""
    return result.status == AgentStatus.FINISHED and result.return_code in (None, 0)


def is_true(value: Any) -> bool:
    """A GitTaskBench flag: JSON true (or the string "true", which some scripts write)."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _tail(text: str, limit: int = OUTPUT_TAIL) -> str:
    return text if len(text) <= limit else text[-limit:]


class ScriptChecker:
    """Copies the check files in after the agent, runs the check, reads its verdict."""


    def check(self, context: CheckContext) -> CheckResult:
        spec = context.task.check
        assert isinstance(spec, ScriptCheckSpec)
        if spec.verdict not in VERDICTS:
            raise HarnessError(Outcome.INFRA_ERROR, f"{context.task.location}: unknown check verdict {spec.verdict!r}")
        if spec.empty:
            passed = agent_succeeded(context.agent)
            detail = "" if passed else f"no check: the agent ended {context.agent.status.value}"
            return CheckResult(Outcome.RESOLVED if passed else Outcome.UNRESOLVED, detail=detail,
                               details={"verdict": "agent_status", "agent_status": context.agent.status.value})
        with self._workspace(context) as runtime:
            self._bring_check_files(runtime, context)
            missing = [p for p in spec.expected_outputs if not self._exists(runtime, p)]
            if missing and spec.verdict == "exit_code":
                detail = f"missing expected output: {', '.join(missing)}"
                return CheckResult(Outcome.UNRESOLVED, detail=detail, details={"verdict": spec.verdict, "missing": missing})
            if spec.verdict == "gittaskbench":
                return self._gittaskbench(runtime, context)
            if spec.verdict == "harbor":
                return self._harbor(runtime, context)
            return self._exit_code(runtime, context)

    @contextlib.contextmanager
    def _workspace(self, context: CheckContext) -> Iterator[Runtime]:
        """The agent's container; for agents that had none, a fresh one with the task's inputs."""
        if context.agent_runtime is not None:
            yield context.agent_runtime
            return

        with context.fresh_runtime() as runtime:
            copy_inputs(runtime, context.task)
            yield runtime

    @staticmethod
    def _exists(runtime: Runtime, path: str) -> bool:
        return runtime.execute(f"test -e {shlex.quote(path)}", timeout=60).exit_code == 0

    def _bring_check_files(self, runtime: Runtime, context: CheckContext) -> None:
        """Delete what the agent may have planted where the check reads, then copy the check files in."""
        spec: ScriptCheckSpec = context.task.check  # type: ignore[assignment]
        targets = [self._absolute(runtime, entry.target) for entry in spec.files]
        clear = [self._absolute(runtime, path) for path in spec.clear] + targets
        if clear:
            quoted = " ".join(shlex.quote(host_path(runtime, path)) for path in clear)
            runtime.execute(f"rm -rf {quoted}", timeout=120)
        for entry, target in zip(spec.files, targets, strict=True):
            if not entry.source.exists():
                raise HarnessError(Outcome.INFRA_ERROR, f"{context.task.location}: check file {entry.source} does not exist")
            if entry.source.is_dir():
                runtime.write_tree(target, entry.source)
            else:
                parent = str(PurePosixPath(target).parent)
                runtime.execute(f"mkdir -p {shlex.quote(host_path(runtime, parent))}", timeout=60)
                runtime.write_file(target, entry.source.read_bytes(), mode=entry.source.stat().st_mode & 0o777)

    @staticmethod
    def _absolute(runtime: Runtime, path: str) -> str:
        """`path` as a container path: relative ones are in the workspace."""
        return path if path.startswith("/") else f"{runtime.workdir.rstrip('/')}/{path}"

    def _run(self, runtime: Runtime, context: CheckContext, command: str, log_name: str) -> ExecResult:
        spec: ScriptCheckSpec = context.task.check  # type: ignore[assignment]
        timeout = spec.timeout or context.test_timeout
        result = runtime.execute(command, timeout=timeout, cwd=runtime.workdir, env=dict(spec.env))
        (context.log_dir / log_name).write_text(
            f"$ {command}\n(exit {result.exit_code}, {result.duration:.1f}s{', timed out' if result.timed_out else ''})\n"
            f"{result.output}",
            encoding="utf-8",
        )
        return result

    @staticmethod
    def _render(runtime: Runtime, context: CheckContext, **extra: str) -> str:
        """The check command with its placeholders filled (other braces, e.g. awk's, stay)."""
        spec: ScriptCheckSpec = context.task.check  # type: ignore[assignment]
        values = {"workspace": runtime.workdir, "check_dir": host_path(runtime, CHECK_DIR), **extra}
        return PLACEHOLDER.sub(
            lambda m: shlex.quote(values[m.group(1)]) if m.group(1) in values else m.group(0), spec.command
        )

    def _exit_code(self, runtime: Runtime, context: CheckContext) -> CheckResult:
        command = self._render(runtime, context)
        result = self._run(runtime, context, command, "check_output.txt")
        details = {"verdict": "exit_code", "command": command, "exit_code": result.exit_code, "log": _tail(result.output)}
        timeout = context.task.check.timeout or context.test_timeout  # type: ignore[attr-defined]
        if result.timed_out:
            return CheckResult(Outcome.TEST_TIMEOUT, detail=f"the check ran past {timeout:g}s", details=details)
        if result.exit_code == 0:
            return CheckResult(Outcome.RESOLVED, details=details)
        return CheckResult(Outcome.UNRESOLVED, detail=f"the check exited {result.exit_code}: {last_line(result.output, '')[:300]}",
                           details=details)

    # GitTaskBench ------------------------------------------------------------------------

    @staticmethod
    def pick_output(names: list[str], multi_output: bool) -> str | None:
        """GitTaskBench's choice of the output to grade, from the paths below the output folder.

        `output.*` in the folder, else `output_*`, else the files in sub-folders named
        `output*`; with multi_output the folder itself ("."). None when there is no output.
        """
        top = sorted(n for n in names if "/" not in n)
        found = [n for n in top if n.startswith("output.")] or [n for n in top if n.startswith("output_")]
        if not found:
            found = sorted(n for n in names if n.count("/") == 1 and n.split("/")[0].startswith("output"))
        if not found:
            return None
        return "." if multi_output else found[0]

    def _gittaskbench(self, runtime: Runtime, context: CheckContext) -> CheckResult:
        spec: ScriptCheckSpec = context.task.check  # type: ignore[assignment]
        output_dir = self._absolute(runtime, spec.output_dir.rstrip("/") or ".")
        result_file = self._absolute(runtime, spec.result_path)
        listing = runtime.execute(
            f"cd {shlex.quote(host_path(runtime, output_dir))} && find . -mindepth 1 -maxdepth 2 -type f", timeout=60
        )
        details: dict[str, Any] = {"verdict": "gittaskbench", "output_dir": output_dir}
        if listing.exit_code != 0:
            return self._gittaskbench_verdict(details, False, False, f"output directory not found: {output_dir}")
        names = [line[2:] for line in listing.output.splitlines() if line.startswith("./")]
        chosen = self.pick_output(names, spec.multi_output)
        if chosen is None:
            return self._gittaskbench_verdict(details, False, False, "No valid output found.")
        output = output_dir if chosen == "." else f"{output_dir}/{chosen}"
        details["output"] = output
        # The script appends: a line the agent planted (or an earlier check wrote) must not count.
        runtime.execute(f"rm -f {shlex.quote(host_path(runtime, result_file))}", timeout=60)
        command = self._render(runtime, context, output=host_path(runtime, output))
        details["command"] = command
        run = self._run(runtime, context, command, "test_script_output.txt")
        details["exit_code"] = run.exit_code
        if run.timed_out:
            timeout = spec.timeout or context.test_timeout
            return CheckResult(Outcome.TEST_TIMEOUT, detail=f"the test script ran past {timeout:g}s", details=details)
        if run.exit_code != 0:
            # As GitTaskBench's evaluator: a crashed script is Process false, Result false.
            comment = f"Test script failed with return code: {run.exit_code}: {last_line(run.output, '')[:300]}"
            return self._gittaskbench_verdict(details, False, False, comment)
        try:
            text = runtime.read_file(result_file).decode("utf-8", errors="replace")
        except FileNotFoundError:
            text = ""
        (context.log_dir / "results.jsonl").write_text(text, encoding="utf-8")
        lines = [line for line in text.splitlines() if line.strip()]
        if not lines:
            return self._gittaskbench_verdict(details, False, False, "the test script wrote no result line")
        try:
            verdict = json.loads(lines[-1])
        except ValueError:
            verdict = None
        if not isinstance(verdict, dict):
            return self._gittaskbench_verdict(details, False, False, f"the result line is not a JSON object: {lines[-1][:200]}")
        return self._gittaskbench_verdict(
            details, is_true(verdict.get("Process")), is_true(verdict.get("Result")), str(verdict.get("comments", ""))
        )

    @staticmethod
    def _gittaskbench_verdict(details: dict[str, Any], process: bool, result: bool, comments: str) -> CheckResult:
        details.update(process=process, result=result, comments=comments)
        outcome = Outcome.RESOLVED if result else Outcome.UNRESOLVED
        detail = "" if result else f"Process {str(process).lower()}, Result false: {comments}"
        return CheckResult(outcome, detail=detail, details=details)

    # Harbor ------------------------------------------------------------------------------

    @staticmethod
    def read_rewards(reward_json: bytes | None, reward_txt: bytes | None) -> dict[str, float] | str:
        """Harbor's rewards: the numbers of reward.json, else reward.txt as `reward`; or why none."""
        if reward_json is not None:
            try:
                data = json.loads(reward_json)
            except ValueError:
                return "reward.json is not JSON"
            if not isinstance(data, dict):
                return "reward.json is not a JSON object"
            rewards = {
                str(k): float(v)
                for k, v in data.items()
                if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            }
            if "reward" not in rewards and reward_txt is not None:
                scalar = ScriptChecker.read_rewards(None, reward_txt)
                if isinstance(scalar, dict):
                    rewards.update(scalar)
            return rewards or "reward.json holds no numbers"
        if reward_txt is not None:
            text = reward_txt.decode("utf-8", errors="replace").strip()
            try:
                value = float(text)
            except ValueError:
                return f"reward.txt is not a number: {text[:80]!r}"
            return {"reward": value} if math.isfinite(value) else f"reward.txt is not finite: {text!r}"
        return "the verifier wrote no reward.txt or reward.json"

    @staticmethod
    def passed(rewards: dict[str, float]) -> bool:
        """Pass iff `reward` >= 1, or, without a `reward` key, every named reward >= 1."""
        if "reward" in rewards:
            return rewards["reward"] >= 1
        return bool(rewards) and all(value >= 1 for value in rewards.values())

    def _harbor(self, runtime: Runtime, context: CheckContext) -> CheckResult:
        spec: ScriptCheckSpec = context.task.check  # type: ignore[assignment]
        verifier_dir = spec.result_path or "/logs/verifier"
        runtime.execute(f"mkdir -p {shlex.quote(host_path(runtime, verifier_dir))}", timeout=60)
        command = self._render(runtime, context)
        run = self._run(runtime, context, command, "test-stdout.txt")
        details: dict[str, Any] = {"verdict": "harbor", "command": command, "exit_code": run.exit_code}
        if run.timed_out:
            timeout = spec.timeout or context.test_timeout
            return CheckResult(Outcome.TEST_TIMEOUT, detail=f"the verifier ran past {timeout:g}s", details=details)

        def read(name: str) -> bytes | None:
            try:
                return runtime.read_file(f"{verifier_dir}/{name}")
            except FileNotFoundError:
                return None

        rewards = self.read_rewards(read("reward.json"), read("reward.txt"))
        if isinstance(rewards, str):
            details.update(reward=None, rewards={}, comments=rewards)
            return CheckResult(Outcome.UNRESOLVED, detail=rewards, details=details)
        reward = rewards.get("reward", min(rewards.values()))
        details.update(reward=reward, rewards=rewards)
        if self.passed(rewards):
            return CheckResult(Outcome.RESOLVED, details=details)
        named = ", ".join(f"{k}={v:g}" for k, v in rewards.items())
        return CheckResult(Outcome.UNRESOLVED, detail=f"reward {reward:g} < 1 ({named})", details=details)

