"""Harbor / Terminal-Bench task folders: one folder is one task.

    <task>/task.toml             [agent] timeout_sec, [verifier] timeout_sec and env,
                                 [environment] docker_image, cpus, memory_mb, allow_internet, ...
    <task>/instruction.md        the prompt
    <task>/environment/Dockerfile    the task image (built once per content hash)
    <task>/tests/test.sh         the verifier: writes /logs/verifier/reward.txt or reward.json
    <task>/solution/solve.sh     what the oracle runs

`tests/` reaches the container as `/tests` only after the agent finished; the verifier runs
there with `bash /tests/test.sh`. The task passes iff its reward is at least 1. Keys of
task.toml this harness does not use are accepted and ignored; the ones it uses are checked
for their type. `[environment] allow_internet = true` gives the task's containers the host's
network (suite.yaml `container.network: host`), `false` none; without it the suite's setting
holds (by default none: an agent that calls its LLM from inside reaches only the run's gateway).
"""

from __future__ import annotations

import dataclasses
import re
import shlex
import sys
from pathlib import Path
from typing import Any, cast

from pytest_ohbench.core.errors import DatasetError
from pytest_ohbench.core.suite import ImageSettings, SuiteConfig
from pytest_ohbench.core.task import SOLUTION_DIR, InputFile, Reference, Task
from pytest_ohbench.kinds.prompts.checker import ScriptCheckSpec
from pytest_ohbench.kinds.prompts.loader import read_text

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

KIND = "harbor"
TASK_FILE = "task.toml"
INSTRUCTION = "instruction.md"
TESTS_DIR = "/tests"
VERIFIER_DIR = "/logs/verifier"
HARBOR_SOLUTION_DIR = "/solution"  # where Harbor's solve.sh scripts expect their files
DEFAULT_WORKDIR = "/app"  # Terminal-Bench's convention, when the Dockerfile sets none
NUMBER = (int, float)
# (section, key) -> accepted types, for the keys this harness reads
TYPES: dict[tuple[str, str], tuple[type, ...]] = {
    ("agent", "timeout_sec"): NUMBER,
    ("verifier", "timeout_sec"): NUMBER,
    ("verifier", "env"): (dict,),
    ("solution", "env"): (dict,),
    ("environment", "build_timeout_sec"): NUMBER,
    ("environment", "docker_image"): (str,),
    ("environment", "cpus"): NUMBER,
    ("environment", "memory_mb"): (int,),
    ("environment", "memory"): (str,),
    ("environment", "allow_internet"): (bool,),
}


# Files only a Harbor / Terminal-Bench task folder holds: with one of them beside instruction.md
# (or task.toml) a folder is a task even when it is incomplete, and its tests must never run as
# the host's own.
TASK_PARTS = ("tests/test.sh", "tests/test_outputs.py", "environment/Dockerfile", "solution/solve.sh")


def is_task_dir(directory: Path) -> bool:
    """True for a Harbor task folder: task.toml and instruction.md side by side."""
    return (directory / TASK_FILE).is_file() and (directory / INSTRUCTION).is_file()


def incomplete_task(directory: Path, in_suite: bool) -> str | None:
    """Why `directory`, shaped as a Harbor task, is not one (None when it is one or is not task-shaped).

    Outside a Harbor suite a folder is task-shaped with task.toml or instruction.md beside one of
    TASK_PARTS; inside one (`kind: harbor`), any of those files makes it a task folder.
    """
    if is_task_dir(directory):
        return None
    heads = [name for name in (TASK_FILE, INSTRUCTION) if (directory / name).is_file()]
    parts = [name for name in TASK_PARTS if (directory / name).is_file()]
    shaped = bool(heads and parts) or (in_suite and bool(heads or parts))
    if not shaped:
        return None
    missing = " and ".join(name for name in (TASK_FILE, INSTRUCTION) if name not in heads)
    return (
        f"{directory}: a Harbor task folder without {missing} (it has {', '.join(heads + parts)}): "
        f"not collected, nothing in it runs; add {missing}"
    )


def _type_name(types: tuple[type, ...]) -> str:
    return "a number" if types == NUMBER else {int: "a whole number", str: "a string", bool: "true or false", dict: "a table"}[types[0]]


def read_config(path: Path) -> dict[str, dict[str, Any]]:
    """task.toml, with the keys this harness uses checked for their type."""
    try:
        data = tomllib.loads(read_text(path))
    except tomllib.TOMLDecodeError as exc:
        raise DatasetError(f"{path}: invalid TOML: {exc}") from None
    for section in ("agent", "verifier", "environment", "solution", "metadata"):
        if not isinstance(data.get(section, {}), dict):
            raise DatasetError(f"{path}: [{section}] must be a table, got {data[section]!r}")
    for (section, key), types in TYPES.items():
        value: Any = data.get(section, {}).get(key)
        if value is None:
            continue
        if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
            raise DatasetError(f"{path}: {section}.{key} must be {_type_name(types)}, got {value!r}")
        if types == NUMBER and cast(float, value) <= 0:
            raise DatasetError(f"{path}: {section}.{key} must be > 0, got {value!r}")
        if types == (dict,) and not all(isinstance(v, (str, int, float)) for v in cast(dict, value).values()):
            raise DatasetError(f"{path}: {section}.{key} values must be strings, got {value!r}")
    return data


def dockerfile_facts(dockerfile: Path) -> tuple[str | None, str | None]:
    """(first FROM image, last absolute WORKDIR) of a Dockerfile; None where absent."""
    base = workdir = None
    for line in dockerfile.read_text(encoding="utf-8", errors="replace").splitlines():
        words = line.strip().split()
        if len(words) >= 2 and words[0].upper() == "FROM" and base is None:
            image = [w for w in words[1:] if not w.startswith("--")]
            base = image[0] if image else None
        elif len(words) >= 2 and words[0].upper() == "WORKDIR" and words[1].startswith("/"):
            workdir = words[1].strip("\"'")
    return base, workdir


def _memory(environment: dict[str, Any]) -> str | None:
    if "memory_mb" in environment:
        return f"{environment['memory_mb']}m"
    if "memory" in environment:  # Harbor's deprecated form: "2G", "512M"
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMG])B?\s*", environment["memory"].upper())
        if match:
            return f"{match.group(1)}{match.group(2).lower()}"
    return None


def _network(environment: dict[str, Any], suite_network: str) -> str:
    """container.network for a task: allow_internet opts in to the host's network (or out), else the suite's."""
    allow = environment.get("allow_internet")
    if allow is None:
        return suite_network
    return "host" if allow else "none"


def _env_exports(env: dict[str, Any]) -> str:
    return "".join(f"export {shlex.quote(str(k))}={shlex.quote(str(v))}; " for k, v in env.items())


def load_task(task_dir: Path, suite: SuiteConfig) -> tuple[Task, SuiteConfig]:
    """A Harbor task folder's task, and its suite settings (image, container, limits from task.toml)."""
    toml_path = task_dir / TASK_FILE
    config = read_config(toml_path)
    agent, verifier, environment = config.get("agent", {}), config.get("verifier", {}), config.get("environment", {})
    instruction = read_text(task_dir / INSTRUCTION)
    if not instruction.strip():
        raise DatasetError(f"{task_dir / INSTRUCTION}: empty instruction")
    test_sh = task_dir / "tests" / "test.sh"
    if not test_sh.is_file():
        raise DatasetError(f"{toml_path}: tests/test.sh not found in {task_dir}")
    dockerfile = task_dir / "environment" / "Dockerfile"
    image_name = environment.get("docker_image")
    if not dockerfile.is_file() and not image_name:
        raise DatasetError(f"{toml_path}: no environment/Dockerfile and no environment.docker_image")
    base, workdir = dockerfile_facts(dockerfile) if dockerfile.is_file() else (None, None)
    workdir = workdir or DEFAULT_WORKDIR
    image = ImageSettings(
        pull=bool(image_name),
        dockerfile="environment/Dockerfile" if dockerfile.is_file() else None,
        context="environment",
        base=base if base and "$" not in base else suite.image.base,
    )
    container = dataclasses.replace(
        suite.container,
        cpus=float(environment.get("cpus", suite.container.cpus)),
        memory=_memory(environment) or suite.container.memory,
        network=_network(environment, suite.container.network),
        workdir=workdir,
    )
    solution = task_dir / "solution"
    reference = Reference()
    if (solution / "solve.sh").is_file():
        # Harbor uploads solution/ to /solution and runs solve.sh from there; it leaves no trace.
        reference = Reference(
            files=solution,
            command=(
                f"{_env_exports(config.get('solution', {}).get('env', {}))}"
                f"rm -rf {HARBOR_SOLUTION_DIR} && cp -a {SOLUTION_DIR} {HARBOR_SOLUTION_DIR} "
                f"&& bash {HARBOR_SOLUTION_DIR}/solve.sh; status=$?; rm -rf {HARBOR_SOLUTION_DIR}; exit $status"
            ),
        )
    task = Task(
        instance_id=task_dir.name,
        kind=KIND,
        prompt=instruction.strip() + "\n",
        check=ScriptCheckSpec(
            command=f"bash {TESTS_DIR}/test.sh",
            files=[InputFile(source=task_dir / "tests", target=TESTS_DIR)],
            verdict="harbor",
            clear=[VERIFIER_DIR],
            env={str(k): str(v) for k, v in verifier.get("env", {}).items()},
            timeout=float(verifier.get("timeout_sec", 600.0)),
            result_path=VERIFIER_DIR,
        ),
        reference=reference,
        image=image_name,
        workdir=workdir,
        agent_timeout=float(agent["timeout_sec"]) if "timeout_sec" in agent else None,
        source_file=str(toml_path),
        fields={"task_toml": config},
    )
    task_suite = dataclasses.replace(suite, root=task_dir, image=image, container=container)
    return task, task_suite
