"""Prompt files: one `.md` file is one task (OpenHands run_batch style), with optional front matter.

    ---
    timeout: 900                    # the whole item, seconds (agent_timeout: the agent stage)
    image: ohbench/base:trixie      # the task's image (default: the suite's)
    workdir: /workspace             # the agent's working folder
    files: [inputs/sales.csv, {source: data/, target: raw}]   # copied into the workspace first
    expected: [summary.csv]         # outputs that must exist afterwards
    check:                          # run in the workspace after the agent (or just a command string)
      command: python3 {check_dir}/check.py summary.csv
      files: [checks/check.py]      # copied to {check_dir} only after the agent finished
    solution: solutions/solve.sh    # what the oracle runs in the workspace
    ---
    The prompt the agent gets: everything after the front matter.

Paths in the front matter are relative to the prompt file. Without a check the task passes
iff the agent finished with success.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import yaml

from pytest_ohbench.core.errors import DatasetError, describe_unknown, unknown_keys_message
from pytest_ohbench.core.suite import SuiteConfig
from pytest_ohbench.core.task import SOLUTION_DIR, InputFile, Reference, Task
from pytest_ohbench.kinds.prompts.checker import CHECK_DIR, ScriptCheckSpec

KIND = "prompt"
FRONT_MATTER_KEYS = ("timeout", "agent_timeout", "image", "workdir", "files", "expected", "check", "solution")
CHECK_KEYS = ("command", "files", "timeout", "env")
# The run's commands see $OHBENCH_ROOT on the local runtime (the folder standing for `/`).
ROOTED_SOLUTION_DIR = "${OHBENCH_ROOT:-}" + SOLUTION_DIR


@dataclasses.dataclass
class PromptFile:
    """A prompt file split into its front matter and its text."""

    front_matter: dict[str, Any]
    text: str


def read_text(path: Path) -> str:
    """The file as UTF-8 text (a DatasetError naming the file if it is not)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})") from None


def split_front_matter(text: str, path: Path) -> PromptFile:
    """Front matter (a YAML mapping between `---` lines at the top) and the prompt after it."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        return PromptFile({}, text)
    end = next((i for i in range(1, len(lines)) if lines[i].strip() in ("---", "...")), None)
    if end is None:
        raise DatasetError(f"{path}:1: front matter opened with --- is never closed")
    try:
        data = yaml.safe_load("".join(lines[1:end]))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 2}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise DatasetError(f"{path}{line}: front matter is not valid YAML: {problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise DatasetError(f"{path}:2: front matter must be a mapping of keys, got {type(data).__name__}")
    return PromptFile(data, "".join(lines[end + 1 :]))


def _error(path: Path, key: str, message: str) -> DatasetError:
    return DatasetError(f"{path}: front matter '{key}': {message}")


def _number(path: Path, key: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise _error(path, key, f"expected a number of seconds > 0, got {value!r}")
    return float(value)


def _string(path: Path, key: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise _error(path, key, f"expected a non-empty string, got {value!r}")
    return value


def _strings(path: Path, key: str, value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _error(path, key, f"expected a list of paths, got {value!r}")
    return value


def _existing(path: Path, key: str, name: str) -> Path:
    source = (path.parent / name).resolve()
    if not source.exists():
        raise _error(path, key, f"{name} does not exist (paths are relative to the prompt file)")
    return source


def _inputs(path: Path, value: Any) -> list[InputFile]:
    """`files`: paths (copied into the workspace under their own name) or {source, target}."""
    if value is None:
        return []
    entries = value if isinstance(value, list) else [value]
    inputs = []
    for entry in entries:
        if isinstance(entry, str) and entry.strip():
            source, target = _existing(path, "files", entry), Path(entry.rstrip("/")).name
        elif isinstance(entry, dict) and set(entry) == {"source", "target"} and all(
            isinstance(v, str) and v.strip() for v in entry.values()
        ):
            source, target = _existing(path, "files", entry["source"]), entry["target"].rstrip("/")
        else:
            raise _error(path, "files", f"expected a path or {{source: ..., target: ...}}, got {entry!r}")
        inputs.append(InputFile(source=source, target=target))
    return inputs


def _check(path: Path, value: Any, expected: list[str]) -> ScriptCheckSpec:
    """`check`: a command string, or {command, files, timeout, env}."""
    if value is None:
        return ScriptCheckSpec(expected_outputs=expected)
    if isinstance(value, str):
        value = {"command": value}
    if not isinstance(value, dict):
        raise _error(path, "check", f"expected a command or a mapping, got {value!r}")
    command = _string(path, "check.command", value.get("command")) or ""
    env = value.get("env") or {}
    if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, (str, int, float)) for k, v in env.items()):
        raise _error(path, "check.env", f"expected a mapping of names to values, got {env!r}")
    files = [
        InputFile(source=_existing(path, "check.files", name), target=f"{CHECK_DIR}/{Path(name.rstrip('/')).name}")
        for name in _strings(path, "check.files", value.get("files"))
    ]
    return ScriptCheckSpec(
        command=command,
        files=files,
        verdict="exit_code",
        expected_outputs=expected,
        env={k: str(v) for k, v in env.items()},
        timeout=_number(path, "check.timeout", value.get("timeout")),
    )


def _reference(path: Path, value: Any) -> Reference:
    """`solution`: a script the oracle copies to its solution folder and runs in the workspace."""
    name = _string(path, "solution", value)
    if name is None:
        return Reference()
    script = _existing(path, "solution", name)
    if not script.is_file():
        raise _error(path, "solution", f"{name} is not a file")
    return Reference(files=script, command=f'bash "{ROOTED_SOLUTION_DIR}/{script.name}"')


def load_prompt(path: Path, suite: SuiteConfig) -> Task:
    """The task of one prompt file (a DatasetError names the file, and the line where known)."""
    prompt = split_front_matter(read_text(path), path)
    front = prompt.front_matter
    # Every unknown key in one error (the check's too), not one key per run.
    described = describe_unknown(front, FRONT_MATTER_KEYS, list_known=True)
    if isinstance(front.get("check"), dict):
        described += describe_unknown(front["check"], CHECK_KEYS, prefix="check.", list_known=True)
    if described:
        raise DatasetError(f"{path}: {unknown_keys_message(described, 'front matter key')}")
    if not prompt.text.strip():
        raise DatasetError(f"{path}: empty prompt (no text after the front matter)")
    workdir = _string(path, "workdir", front.get("workdir"))
    if workdir is not None and not workdir.startswith("/"):
        raise _error(path, "workdir", f"expected an absolute path, got {workdir!r}")
    image = _string(path, "image", front.get("image"))
    if image is None and not (suite.image.template or suite.image.dockerfile):
        image = suite.image.base  # a bare prompt folder runs on the base image
    expected = _strings(path, "expected", front.get("expected"))
    return Task(
        instance_id=path.stem,
        kind=KIND,
        prompt=prompt.text.strip() + "\n",
        check=_check(path, front.get("check"), expected),
        reference=_reference(path, front.get("solution")),
        image=image,
        workdir=workdir,
        timeout=_number(path, "timeout", front.get("timeout")),
        agent_timeout=_number(path, "agent_timeout", front.get("agent_timeout")),
        inputs=_inputs(path, front.get("files")),
        source_file=str(path),
        fields={"front_matter": front},
    )
