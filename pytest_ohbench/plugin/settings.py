"""The session's settings, built once from the options: command line, then ini, then default.

This is the only module that reads pytest options (as pytest-timeout builds its Settings);
everything else gets the frozen `Settings`, and agents only its `AgentSettings`.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from pytest_ohbench.agents.base import DEFAULT_OPENHANDS_SDK_VERSION, DEFAULT_OPENHANDS_VERSION, AgentSettings
from pytest_ohbench.plugin.options import (
    container_limit,
    docker_host,
    non_negative_float,
    non_negative_int,
    perf_criterion,
    perf_repeats,
    positive_int,
)
from pytest_ohbench.report.compare import Gate, read_flaky_file
from pytest_ohbench.runtime.provider import runtimes

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_LLM_AGENT = "openhands"  # the agent of `--llm-config X` without --agent
T = TypeVar("T")
D = TypeVar("D")


@dataclasses.dataclass(frozen=True)
class Settings:
    """Every pytest-ohbench option of the session, resolved."""

    agent_name: str | None
    agent: AgentSettings
    report_dir: Path  # absolute
    run_id: str | None  # --ohbench-run-id
    llm_sections: tuple[str, ...]
    config_path: Path  # the config.toml with the [llm] sections, absolute
    hints: bool
    limit: int | None
    attempts: int
    retries: int
    max_cost: float | None
    resume: Path | None
    compare: str | None  # a run folder, run id or "latest"
    compare_fail: tuple[Gate, ...]
    task_timeout: float | None = None  # pytest-timeout's --timeout when given: beats suite.yaml
    skip_rule: str | None = None  # --ohbench-skip-rule (None: each suite's test.skipped_p2p)
    runtime: str = "docker"  # --ohbench-runtime: docker, or local (host subprocesses, no isolation)
    flaky: tuple[str, ...] = ()  # instance ids / patterns the `instance` gate ignores
    progress: int | None = None  # a progress line every N items; None: automatic; 0: none
    llm_record: bool = False  # --ohbench-llm-record: cassettes in the run folder
    llm_replay: str | None = None  # --ohbench-llm-replay RUN: answer the LLM from RUN's cassettes
    llm_retries: int = 3  # --ohbench-llm-retries: upstream 429/5xx retried by the gateway
    docker_hosts: tuple[str, ...] = ()  # --ohbench-docker-host, in order; () means DOCKER_HOST
    max_containers: int | None = None  # --ohbench-max-containers: per engine, shared by all workers
    # Options over a kind's suite.yaml section, by section (--ohbench-perf-*: perf); only the given ones.
    section_overrides: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    # The OpenHands run_infer knobs (their environment variables are the defaults).
    image_prefix: str | None = None  # --ohbench-image-prefix / EVAL_DOCKER_IMAGE_PREFIX
    image_tars: Path | None = None  # --ohbench-image-tars: a folder of image tars
    skip_ids: frozenset[str] = frozenset()  # --ohbench-skip-ids / SKIP_IDS


def _ini(config: pytest.Config, name: str, option: str, convert: Callable[[str], T]) -> T | None:
    """An ini value through the option's argparse converter; a bad one is a usage error."""
    raw = str(config.getini(name) or "").strip()
    if not raw:
        return None
    try:
        return convert(raw)
    except argparse.ArgumentTypeError as exc:
        raise pytest.UsageError(f"ini option {name} (for {option}): {exc}") from None


def _value(config: pytest.Config, dest: str, option: str, convert: Callable[[str], T], default: D) -> T | D:
    """The command-line value of `option`, else its ini key (named like `dest`), else `default`."""
    value = config.getoption(dest)
    if value is not None:
        return value
    from_ini = _ini(config, dest, option, convert)
    return default if from_ini is None else from_ini


def _path(config: pytest.Config, value: str) -> Path:
    """A path from an option: relative ones are taken from the directory pytest was started in."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else Path(config.invocation_params.dir) / path


def _text(config: pytest.Config, dest: str) -> str:
    return str(config.getoption(dest) or config.getini(dest) or "")


def _env_flag(name: str) -> bool:
    """An environment switch as run_infer reads it: true, 1, yes."""
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes")


def core_section(path: Path) -> dict[str, Any]:
    """OpenHands' [core] max_iterations / max_budget_per_task from the config.toml, when it sets them."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}  # a missing or broken file is reported where the [llm] sections are read
    raw = data.get("core")
    core: dict[str, Any] = raw if isinstance(raw, dict) else {}
    found: dict[str, Any] = {}
    for key, wanted in (("max_iterations", int), ("max_budget_per_task", (int, float))):
        if key in core:
            value = core[key]
            if isinstance(value, bool) or not isinstance(value, wanted) or value < (1 if key == "max_iterations" else 0):
                raise pytest.UsageError(f"{path}: [core] {key} must be a {'number >= 1' if wanted is int else 'number >= 0'}, got {value!r}")
            found[key] = value
    return found


def build_settings(config: pytest.Config) -> Settings:
    """Read every option once (usage errors name the option)."""
    predictions: Any = config.getoption("ohbench_predictions")
    wheelhouse: Any = config.getoption("openhands_wheelhouse")
    source: Any = config.getoption("openhands_source")
    config_path = _path(config, _text(config, "ohbench_config") or "config.toml")
    # OpenHands users keep their limits in [core]: the defaults when no option or ini key sets them.
    core = core_section(config_path)
    agent = AgentSettings(
        max_steps=_value(config, "ohbench_max_steps", "--ohbench-max-steps", positive_int, core.get("max_iterations", 100)),
        max_cost_per_task=float(_value(
            config, "ohbench_max_cost_per_task", "--ohbench-max-cost-per-task", non_negative_float,
            core.get("max_budget_per_task", 3.0),
        )),
        command=_text(config, "ohbench_command"),
        predictions=_path(config, predictions) if predictions else None,
        openhands_version=config.getoption("openhands_version") or DEFAULT_OPENHANDS_VERSION,
        openhands_wheelhouse=_path(config, wheelhouse) if wheelhouse else None,
        openhands_agent_class=config.getoption("openhands_agent_class") or "CodeActAgent",
        openhands_enable_browsing=bool(config.getoption("openhands_enable_browsing")),
        openhands_condenser=config.getoption("openhands_condenser") or "noop",
        openhands_condenser_max_events=config.getoption("openhands_condenser_max_events") or 40,
        openhands_eval_note=config.getoption("openhands_eval_note") or "",
        openhands_sdk_version=config.getoption("openhands_sdk_version") or DEFAULT_OPENHANDS_SDK_VERSION,
        openhands_source=_path(config, source) if source else None,
    )
    resume = config.getoption("ohbench_resume")
    tars = config.getoption("ohbench_image_tars")
    llm_sections = tuple(config.getoption("ohbench_llm_configs") or ())
    return Settings(
        # A model and no agent: OpenHands, the agent this harness is built around.
        agent_name=_text(config, "ohbench_agent") or (DEFAULT_LLM_AGENT if llm_sections else None),
        agent=agent,
        report_dir=_path(config, _text(config, "ohbench_report_dir") or "reports"),
        run_id=config.getoption("ohbench_run_id"),
        llm_sections=llm_sections,
        config_path=config_path,
        hints=bool(config.getoption("ohbench_hints")) or _env_flag("USE_HINT_TEXT"),
        limit=_value(config, "ohbench_limit", "--ohbench-limit", positive_int, None),
        attempts=config.getoption("ohbench_attempts") or 1,
        retries=config.getoption("ohbench_retries") or 0,
        max_cost=config.getoption("ohbench_max_cost"),
        resume=_path(config, resume) if resume else None,
        compare=config.getoption("ohbench_compare"),
        compare_fail=tuple(config.getoption("ohbench_compare_fail") or ()),
        task_timeout=config.getoption("timeout", None),  # None without pytest-timeout or the option
        skip_rule=config.getoption("ohbench_skip_rule"),
        runtime=_runtime(config),
        flaky=_flaky(config),
        progress=_value(config, "ohbench_progress", "--ohbench-progress", non_negative_int, None),
        llm_record=bool(config.getoption("ohbench_llm_record")),
        llm_replay=config.getoption("ohbench_llm_replay"),
        llm_retries=_value(config, "ohbench_llm_retries", "--ohbench-llm-retries", non_negative_int, 3),
        docker_hosts=_docker_hosts(config),
        max_containers=_value(config, "ohbench_max_containers", "--ohbench-max-containers", container_limit, None),
        section_overrides={"perf": {
            key: value
            for key, value in (
                ("criterion", _value(config, "ohbench_perf_criterion", "--ohbench-perf-criterion", perf_criterion, None)),
                ("target", _value(config, "ohbench_perf_target", "--ohbench-perf-target", non_negative_float, None)),
                ("repeats", _value(config, "ohbench_perf_repeats", "--ohbench-perf-repeats", perf_repeats, None)),
            )
            if value is not None
        }},
        image_prefix=config.getoption("ohbench_image_prefix") or os.environ.get("EVAL_DOCKER_IMAGE_PREFIX") or None,
        image_tars=_path(config, tars) if tars else None,
        skip_ids=frozenset(
            part.strip()
            for value in [*(config.getoption("ohbench_skip_ids") or []), os.environ.get("SKIP_IDS", "")]
            for part in value.split(",")
            if part.strip()
        ),
    )


def _runtime(config: pytest.Config) -> str:
    """--ohbench-runtime, else the ini key; a runtime not registered (docker, local, a plug-in's) is a usage error."""
    value = _text(config, "ohbench_runtime") or "docker"
    if value not in runtimes():
        raise pytest.UsageError(f"--ohbench-runtime: expected one of {', '.join(runtimes())}, got {value!r}")
    return value


def _flaky(config: pytest.Config) -> tuple[str, ...]:
    """The known-flaky instances: the ini's ohbench_flaky lines, then every --ohbench-flaky file."""
    patterns = [str(line).strip() for line in config.getini("ohbench_flaky") or () if str(line).strip()]
    for name in config.getoption("ohbench_flaky") or ():
        try:
            patterns += read_flaky_file(_path(config, name))
        except (OSError, UnicodeDecodeError) as exc:
            raise pytest.UsageError(f"--ohbench-flaky {name}: cannot read it: {exc}") from None
    return tuple(patterns)


def _docker_hosts(config: pytest.Config) -> tuple[str, ...]:
    """The engines: every --ohbench-docker-host, else the ini's ohbench_docker_hosts lines (duplicates dropped)."""
    hosts = list(config.getoption("ohbench_docker_hosts") or ())
    if not hosts:
        for line in config.getini("ohbench_docker_hosts") or ():
            if str(line).strip():
                try:
                    hosts.append(docker_host(str(line).strip()))
                except argparse.ArgumentTypeError as exc:
                    raise pytest.UsageError(f"ini option ohbench_docker_hosts (for --ohbench-docker-host): {exc}") from None
    return tuple(dict.fromkeys(hosts))
