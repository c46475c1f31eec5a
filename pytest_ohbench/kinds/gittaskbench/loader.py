"""GitTaskBench tasks, read from the benchmark's own layout (one task per `config/<task>/task_info.yaml`).

    config/<task>/task_info.yaml     taskid, result, output_dir, multi_output, test_script,
                                     groundtruth (optional), parameters (optional)
    queries/<task>/query.json        task_description, repositories, file_paths.input_files
    queries/<task>/task_meta/*_prompt.md   guidance appended to the prompt (optional)
    queries/<task>/input/            the task's input files
    code_base/<repo>/                the repositories the task is to be solved with
    groundtruth/<task>/, test_scripts/<task>/test_script.py   the check: never shown to the agent
    solutions/<task>/solve.sh        (our addition, optional) what the oracle runs in the root

The agent works in a copy of the root (default `/GitTaskBench`) holding only the code bases
and the task's inputs; the test script and the ground truth arrive after it finished. The
check runs `python3 <test_script> --output <output> --result <result> [--groundtruth <gt>]
[--<parameter> <value> ...]` in the root, as GitTaskBench's evaluator does.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from pytest_ohbench.core.errors import DatasetError
from pytest_ohbench.core.suite import SuiteConfig
from pytest_ohbench.core.task import InputFile, Reference, Task
from pytest_ohbench.kinds.prompts.checker import ScriptCheckSpec
from pytest_ohbench.kinds.prompts.loader import ROOTED_SOLUTION_DIR, read_text

KIND = "gittaskbench"
TASK_INFO = "task_info.yaml"
REQUIRED = {"taskid": str, "result": str, "output_dir": str, "multi_output": bool, "test_script": str}
# The top folders of the layout: an absolute path in query.json is read from the first of them.
LAYOUT_FOLDERS = ("code_base", "queries", "groundtruth", "test_scripts", "output", "config")


def is_root(directory: Path) -> bool:
    """True for a folder laid out as GitTaskBench: config/, queries/ and test_scripts/."""
    return all((directory / name).is_dir() for name in ("config", "queries", "test_scripts"))


def task_infos(root: Path) -> list[Path]:
    """Every config/<task>/task_info.yaml of a root, sorted."""
    return sorted((root / "config").glob(f"*/{TASK_INFO}"))


def root_relative(path: str) -> str:
    """A query.json path relative to the root: `/GitTaskBench/code_base/X` -> `code_base/X`."""
    parts = PurePosixPath(path).parts
    if path.startswith("/"):
        parts = parts[1:]
        for index, part in enumerate(parts):
            if part in LAYOUT_FOLDERS:
                return "/".join(parts[index:])
    return "/".join(parts)


def _load_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(read_text(path))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise DatasetError(f"{path}{line}: invalid YAML: {getattr(exc, 'problem', None) or exc}") from None
    if not isinstance(data, dict):
        raise DatasetError(f"{path}: expected a mapping at the top level")
    return data


def _task_info(path: Path) -> dict[str, Any]:
    info = _load_yaml(path)
    for key, kind in REQUIRED.items():
        if key not in info:
            raise DatasetError(f"{path}: missing required field '{key}'")
        if not isinstance(info[key], kind) or (kind is str and not info[key].strip()):
            raise DatasetError(f"{path}: '{key}' must be a {kind.__name__}, got {info[key]!r}")
    if info.get("groundtruth") is not None and not isinstance(info["groundtruth"], str):
        raise DatasetError(f"{path}: 'groundtruth' must be a path, got {info['groundtruth']!r}")
    parameters = info.get("parameters") or {}
    if not isinstance(parameters, dict) or not all(isinstance(k, str) for k in parameters):
        raise DatasetError(f"{path}: 'parameters' must be a mapping of option names to values, got {parameters!r}")
    if info["taskid"] != path.parent.name:
        raise DatasetError(f"{path}: taskid {info['taskid']!r} does not match its folder {path.parent.name!r}")
    # Absolute paths (`/GitTaskBench/test_results/...`) are the root's: the check runs in the
    # workspace, and a path outside it would be written on the host with the local runtime.
    for key in ("result", "output_dir", "test_script", "groundtruth"):
        if isinstance(info.get(key), str) and info[key].startswith("/"):
            info[key] = root_relative(info[key])
    return info


def _query(root: Path, taskid: str) -> dict[str, Any]:
    path = root / "queries" / taskid / "query.json"
    if not path.is_file():
        raise DatasetError(f"{path}: missing (every task needs queries/<task>/query.json)")
    try:
        query = json.loads(read_text(path))
    except ValueError as exc:
        raise DatasetError(f"{path}: invalid JSON: {exc}") from None
    if not isinstance(query, dict) or not isinstance(query.get("task_description"), str) or not query["task_description"].strip():
        raise DatasetError(f"{path}: needs a non-empty 'task_description'")
    if not isinstance(query.get("repositories", []), list):
        raise DatasetError(f"{path}: 'repositories' must be a list")
    return query


def _guidance(root: Path, taskid: str, query: dict[str, Any]) -> str:
    """The task_meta prompt (query.json's prompt_file, else queries/<task>/task_meta/*_prompt.md)."""
    candidates = []
    if isinstance(query.get("prompt_file"), str):
        candidates.append(root / root_relative(query["prompt_file"]))
    candidates += sorted((root / "queries" / taskid / "task_meta").glob("*_prompt.md"))
    for path in candidates:
        if path.is_file():
            return read_text(path).strip()
    return ""


def _repositories(root: Path, query: dict[str, Any], where: Path) -> list[tuple[str, str, list[str]]]:
    """(name, path relative to the root, guidelines) of each repository the task names."""
    repos = []
    for entry in query.get("repositories", []):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise DatasetError(f"{where}: each repository needs a 'name'")
        relative = root_relative(entry["path"]) if isinstance(entry.get("path"), str) else f"code_base/{entry['name']}"
        if not (root / relative).is_dir():
            raise DatasetError(f"{where}: repository {entry['name']} not found at {root / relative}")
        guidelines = entry.get("understanding_guidelines") or []
        repos.append((entry["name"], relative, [str(g) for g in guidelines] if isinstance(guidelines, list) else [str(guidelines)]))
    return repos


def _input_files(query: dict[str, Any]) -> list[tuple[str, str]]:
    """(path relative to the root, description) of the inputs query.json lists."""
    listed = (query.get("file_paths") or {}).get("input_files") or []
    files = []
    for entry in listed if isinstance(listed, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("path"), str):
            files.append((root_relative(entry["path"]), str(entry.get("description", ""))))
    return files


def render_prompt(
    workdir: str,
    query: dict[str, Any],
    repos: list[tuple[str, str, list[str]]],
    inputs: list[tuple[str, str]],
    output_dir: str,
    guidance: str,
) -> str:
    """The agent's prompt, laid out as GitTaskBench's generated prompts (in English)."""
    lines = ["## Task", query["task_description"].strip(), "", "## Repositories"]
    for name, relative, guidelines in repos:
        lines += [f"Name: {name}", f"Path (absolute): {workdir}/{relative}"]
        if guidelines:
            lines.append(f"Guidelines: {'; '.join(guidelines)}")
        lines.append("")
    lines += ["## Files", "Input:"]
    lines += [f"- {workdir}/{path}" + (f": {text}" if text else "") for path, text in inputs] or ["- none"]
    lines += [
        "",
        "Output:",
        f"Save the results in {workdir}/{output_dir.strip('/')}. If there is one output file, name it "
        "`output` (with the extension the task calls for); if there are several, name them `output_01`, "
        "`output_02`, ...",
    ]
    if guidance:
        lines += ["", "## Notes", guidance]
    return "\n".join(lines).strip() + "\n"


def _command(info: dict[str, Any]) -> str:
    """The test script's command line; `{output}` is filled in when the check picks the output."""
    parts = ["python3", shlex.quote(info["test_script"]), "--output", "{output}", "--result", shlex.quote(info["result"])]
    if info.get("groundtruth"):
        parts += ["--groundtruth", shlex.quote(info["groundtruth"])]
    for key, value in (info.get("parameters") or {}).items():
        parts += [f"--{shlex.quote(key)}", shlex.quote(str(value))]
    return " ".join(parts)


def load_task(task_info: Path, root: Path, suite: SuiteConfig) -> Task:
    """The task of one config/<task>/task_info.yaml (a DatasetError names the file)."""
    info = _task_info(task_info)
    taskid = info["taskid"]
    test_script = root / info["test_script"]
    if not test_script.is_file():
        raise DatasetError(f"{task_info}: test_script {info['test_script']} does not exist")
    check_files = [InputFile(source=test_script.parent, target=str(PurePosixPath(info["test_script"]).parent))]
    if info.get("groundtruth"):
        groundtruth = root / info["groundtruth"]
        if not groundtruth.exists():
            raise DatasetError(f"{task_info}: groundtruth {info['groundtruth']} does not exist")
        check_files.append(InputFile(source=groundtruth, target=info["groundtruth"].rstrip("/")))
    query = _query(root, taskid)
    query_path = root / "queries" / taskid / "query.json"
    repos = _repositories(root, query, query_path)
    listed = _input_files(query)
    inputs = [InputFile(source=root / relative, target=relative) for _, relative, _ in repos]
    input_dir = root / "queries" / taskid / "input"
    if input_dir.is_dir():
        inputs.append(InputFile(source=input_dir, target=f"queries/{taskid}/input"))
        # Put back before the check: a script that recomputes from the input reads the original.
        check_files.append(InputFile(source=input_dir, target=f"queries/{taskid}/input"))
    for relative, _ in listed:
        covered = any(relative == i.target or relative.startswith(i.target + "/") for i in inputs)
        if not covered:
            if not (root / relative).exists():
                raise DatasetError(f"{query_path}: input file {relative} not found in {root}")
            inputs.append(InputFile(source=root / relative, target=relative))
    workdir = suite.container.workdir.rstrip("/") or "/"
    solution = root / "solutions" / taskid
    reference = Reference()
    if (solution / "solve.sh").is_file():
        reference = Reference(files=solution, command=f'bash "{ROOTED_SOLUTION_DIR}/solve.sh"')
    image = None if (suite.image.template or suite.image.dockerfile) else suite.image.base
    return Task(
        instance_id=taskid,
        kind=KIND,
        prompt=render_prompt(workdir, query, repos, listed, info["output_dir"], _guidance(root, taskid, query)),
        check=ScriptCheckSpec(
            command=_command(info),
            files=check_files,
            verdict="gittaskbench",
            clear=[info["result"]],
            result_path=info["result"],
            output_dir=info["output_dir"],
            multi_output=info["multi_output"],
        ),
        reference=reference,
        image=image,
        workdir=workdir,
        inputs=inputs,
        source_file=str(task_info),
        fields={"task_info": info, "query_file": str(query_path)},
    )
