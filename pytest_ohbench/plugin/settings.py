"""The session's settings, built once from the options: command line, then ini, then default.

This is the only module that reads pytest options (as pytest-timeout builds its Settings);
everything else gets the frozen `Settings`, and agents only its `AgentSettings`.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path
from typing import Any, TypeVar

import pytest

from pytest_ohbench.agents.base import AgentSettings
from pytest_ohbench.plugin.options import value
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

    agent_names: tuple[str, ...]  # --agent, in order (each item runs once per agent); () for none
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
    allow_internet: bool = False  # --ohbench-allow-internet: agents' containers on the host's network
    llm_replay: str | None = None  # --ohbench-llm-replay RUN: answer the LLM from RUN's cassettes
    llm_retries: int = 3  # --ohbench-llm-retries: upstream 429/5xx retried by the gateway
    gateway_host: str = "127.0.0.1"  # --ohbench-gateway-host: where the gateway listens
    docker_hosts: tuple[str, ...] = ()  # --ohbench-docker-host, in order; () means DOCKER_HOST
    max_containers: int | None = None  # --ohbench-max-containers: per engine, shared by all workers
    preflight: bool = True  # --ohbench-preflight: every image checked before the first item
    # Options over a kind's suite.yaml section, by section (--ohbench-perf-*: perf); only the given ones.
    section_overrides: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    # The OpenHands run_infer knobs (their environment variables are the defaults).
    image_prefix: str | None = None  # --ohbench-image-prefix / EVAL_DOCKER_IMAGE_PREFIX
    image_tars: Path | None = None  # --ohbench-image-tars: a folder of image tars
    skip_ids: frozenset[str] = frozenset()  # --ohbench-skip-ids / SKIP_IDS

    @property
    def agent_name(self) -> str | None:
        """The agents as one name for what shows a run in a line (run.json, `list`): "a, b"."""
        return ", ".join(self.agent_names) or None


def _path(config: pytest.Config, value: str) -> Path:
    """A path from an option: relative ones are taken from the directory pytest was started in."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else Path(config.invocation_params.dir) / path


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
    """Read every option once, as the table says (plugin/options.py): usage errors name the option."""
    predictions: Any = value(config, "ohbench_predictions")
    wheelhouse: Any = value(config, "openhands_wheelhouse")
    source: Any = value(config, "openhands_source")
    config_path = _path(config, value(config, "ohbench_config"))
    # OpenHands users keep their limits in [core]: the defaults when no option or ini key sets them.
    core = core_section(config_path)
    agent = AgentSettings(
        max_steps=value(config, "ohbench_max_steps", core.get("max_iterations")),
        max_cost_per_task=float(value(config, "ohbench_max_cost_per_task", core.get("max_budget_per_task"))),
        command=value(config, "ohbench_command") or "",
        predictions=_path(config, predictions) if predictions else None,
        openhands_version=value(config, "openhands_version"),
        openhands_wheelhouse=_path(config, wheelhouse) if wheelhouse else None,
        openhands_agent_class=value(config, "openhands_agent_class"),
        openhands_enable_browsing=value(config, "openhands_enable_browsing"),
        openhands_condenser=value(config, "openhands_condenser"),
        openhands_condenser_max_events=value(config, "openhands_condenser_max_events"),
        openhands_eval_note=value(config, "openhands_eval_note") or "",
        openhands_sdk_version=value(config, "openhands_sdk_version"),
        openhands_source=_path(config, source) if source else None,
        claude_code_version=value(config, "claude_code_version"),
        gemini_cli_version=value(config, "gemini_cli_version"),
        qwen_code_version=value(config, "qwen_code_version"),
        aider_version=value(config, "aider_version"),
        codex_version=value(config, "codex_version"),
        opencode_version=value(config, "opencode_version"),
    )
    resume = value(config, "ohbench_resume")
    tars = value(config, "ohbench_image_tars")
    llm_sections = tuple(value(config, "ohbench_llm_configs"))
    return Settings(
        # A model and no agent: OpenHands, the agent this harness is built around.
        agent_names=tuple(dict.fromkeys(value(config, "ohbench_agent"))) or ((DEFAULT_LLM_AGENT,) if llm_sections else ()),
        agent=agent,
        report_dir=_path(config, value(config, "ohbench_report_dir")),
        run_id=value(config, "ohbench_run_id"),
        llm_sections=llm_sections,
        config_path=config_path,
        hints=value(config, "ohbench_hints"),
        limit=value(config, "ohbench_limit"),
        attempts=value(config, "ohbench_attempts"),
        retries=value(config, "ohbench_retries"),
        max_cost=value(config, "ohbench_max_cost"),
        resume=_path(config, resume) if resume else None,
        compare=value(config, "ohbench_compare"),
        compare_fail=tuple(value(config, "ohbench_compare_fail")),
        task_timeout=config.getoption("timeout", None),  # None without pytest-timeout or the option
        skip_rule=value(config, "ohbench_skip_rule"),
        runtime=_runtime(config),
        flaky=_flaky(config),
        progress=value(config, "ohbench_progress"),
        llm_record=value(config, "ohbench_llm_record"),
        allow_internet=value(config, "ohbench_allow_internet"),
        llm_replay=value(config, "ohbench_llm_replay"),
        llm_retries=value(config, "ohbench_llm_retries"),
        gateway_host=value(config, "ohbench_gateway_host"),
        docker_hosts=tuple(dict.fromkeys(value(config, "ohbench_docker_hosts"))),
        max_containers=value(config, "ohbench_max_containers"),
        preflight=value(config, "ohbench_preflight") != "off",
        section_overrides={"perf": {
            key: found
            for key, found in (
                ("criterion", value(config, "ohbench_perf_criterion")),
                ("target", value(config, "ohbench_perf_target")),
                ("repeats", value(config, "ohbench_perf_repeats")),
            )
            if found is not None
        }},
        image_prefix=value(config, "ohbench_image_prefix") or None,
        image_tars=_path(config, tars) if tars else None,
        # The command line's ids and SKIP_IDS's together (run_infer reads SKIP_IDS).
        skip_ids=frozenset(
            part.strip()
            for given in [*value(config, "ohbench_skip_ids"), os.environ.get("SKIP_IDS", "")]
            for part in given.split(",")
            if part.strip()
        ),
    )


def _runtime(config: pytest.Config) -> str:
    """--ohbench-runtime, else the ini key; a runtime not registered (docker, local, a plug-in's) is a usage error."""
    name = str(value(config, "ohbench_runtime"))
    if name not in runtimes():
        raise pytest.UsageError(f"--ohbench-runtime: expected one of {', '.join(runtimes())}, got {name!r}")
    return name


def _flaky(config: pytest.Config) -> tuple[str, ...]:
    """The known-flaky instances: the ini's ohbench_flaky lines, then every --ohbench-flaky file."""
    patterns = [str(line).strip() for line in config.getini("ohbench_flaky") or () if str(line).strip()]
    for name in config.getoption("ohbench_flaky") or ():
        try:
            patterns += read_flaky_file(_path(config, name))
        except (OSError, UnicodeDecodeError) as exc:
            raise pytest.UsageError(f"--ohbench-flaky {name}: cannot read it: {exc}") from None
    return tuple(patterns)
