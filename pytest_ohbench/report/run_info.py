"""run.json: what a run was made of, so that unlike runs are never compared silently.

Plugin and agent versions, the model sections (without secrets), limits, a hash of every
dataset file, the image each task ran in (its id, the digest of its content, and whether it
was built, loaded, pulled or found), each suite's container environment (time zone, hash
seed, locale), the engines (version, kernel) and the machine (CPU model, cores, load,
kernel). The compare gate lists every difference between the baseline's run.json and this
one (engines and machine aside).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Protocol

from pytest_ohbench.agents.base import AgentSettings, agent_names, load_agent
from pytest_ohbench.core.llm import LLMConfig
from pytest_ohbench.core.machine import machine_facts
from pytest_ohbench.core.record import TaskRecord, utc_now

RUN_INFO_FILE = "run.json"
# Model-section keys that change results; the api_key and base_url stay out of run.json.
MODEL_KEYS = (
    "model",
    "temperature",
    "top_p",
    "max_input_tokens",
    "max_output_tokens",
    "input_cost_per_token",
    "output_cost_per_token",
    "cache_read_cost_per_token",
)


class RunChoices(Protocol):
    """What run.json records of the run's settings (plugin/settings.py's Settings has it): an
    interface, so that report/ does not import the plugin that drives it."""

    @property
    def agent_names(self) -> tuple[str, ...]: ...
    @property
    def agent_name(self) -> str | None: ...
    @property
    def agent(self) -> AgentSettings: ...
    @property
    def hints(self) -> bool: ...
    @property
    def attempts(self) -> int: ...
    @property
    def max_cost(self) -> float | None: ...


def package_version(name: str) -> str | None:
    """The installed version of a distribution, or None."""
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def agent_version(settings: RunChoices) -> str | None:
    """The versions of what the chosen agents run, where they have one."""
    versions = [load_agent(name)(settings.agent).agent_version() for name in settings.agent_names if name in agent_names()]
    return ", ".join(v for v in versions if v) or None


def file_sha256(path: Path) -> str:
    """The hex sha256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_info(
    settings: RunChoices,
    llms: dict[str, LLMConfig],
    datasets: Iterable[Path],
    timeouts: dict[str, dict[str, float]],
    records: Iterable[TaskRecord] = (),
    rootpath: Path | None = None,
    environments: dict[str, dict[str, str]] | None = None,
    engines: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The run.json document (plain JSON, no secrets). `environments`: each suite's container
    environment; `engines`: what the runtime says of where tasks ran (versions, kernel)."""

    def shown(path: Path) -> str:
        try:
            return str(path.resolve().relative_to(rootpath)) if rootpath else str(path)
        except ValueError:
            return str(path)

    images: dict[str, dict[str, Any]] = {}
    for record in records:
        if record.image:
            images[record.image] = {"id": record.image_id, "source": record.image_source}
    agent = dataclasses.asdict(settings.agent)
    agent.pop("predictions", None)
    agent.pop("openhands_wheelhouse", None)
    agent["openhands_source"] = str(settings.agent.openhands_source) if settings.agent.openhands_source else None
    return {
        "written_at": utc_now(),
        "plugin_version": package_version("pytest-ohbench"),
        "agent": settings.agent_name,
        "agent_version": agent_version(settings),
        "agent_settings": agent,
        "models": {
            name: {key: getattr(llm, key) for key in MODEL_KEYS if getattr(llm, key, None) is not None}
            for name, llm in llms.items()
        },
        "limits": {
            "attempts": settings.attempts,
            "max_cost": settings.max_cost,
            "hints": settings.hints,
            "timeouts": timeouts,
        },
        "datasets": {shown(path): file_sha256(path) for path in sorted(set(datasets)) if path.is_file()},
        "images": dict(sorted(images.items())),
        # TZ, PYTHONHASHSEED and locale of every task container, by suite (core/suite.py).
        "environment": dict(sorted((environments or {}).items())),
        # Where it ran (not compared: a perf record keeps its own, beside its timings).
        "engines": engines or {},
        "machine": machine_facts(),
    }


def write_run_info(run_dir: Path, info: dict[str, Any]) -> None:
    """Write run.json into the run folder."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / RUN_INFO_FILE).write_text(json.dumps(info, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def load_run_info(run_dir: Path) -> dict[str, Any] | None:
    """A run folder's run.json, or None for runs made before it existed (or unreadable)."""
    path = run_dir / RUN_INFO_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


# Compared between runs; when these differ, the runs are not like for like.
COMPARED = ("plugin_version", "agent", "agent_version", "agent_settings", "models", "limits", "datasets", "images", "environment")


def _flatten(value: Any, prefix: str) -> dict[str, Any]:
    if isinstance(value, dict) and value:
        flat: dict[str, Any] = {}
        for key, inner in value.items():
            flat.update(_flatten(inner, f"{prefix}.{key}"))
        return flat
    return {prefix: value}


def differences(baseline: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """One line per setting that differs between two run.json documents."""
    lines = []
    for section in COMPARED:
        old, new = _flatten(baseline.get(section), section), _flatten(current.get(section), section)
        keys = set(old) | set(new)
        if section == "images":  # a run of fewer tasks uses fewer images: compare the shared ones
            keys = {key.rsplit(".", 1)[0] for key in set(old) & set(new)}
            keys = {key for key in set(old) | set(new) if key.rsplit(".", 1)[0] in keys}
        for key in sorted(keys):
            if old.get(key) != new.get(key):
                lines.append(f"{key}: baseline {json.dumps(old.get(key))}, now {json.dumps(new.get(key))}")
    return lines
