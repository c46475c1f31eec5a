"""Session set-up from the options: LLM sections, resume, baseline, OpenHands (usage errors)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from pytest_ohbench.agents.agent_tree import TreeError, ensure_tree
from pytest_ohbench.agents.base import AgentSettings, load_agent
from pytest_ohbench.agents.openhands.agent import agent_classes, tree_spec
from pytest_ohbench.agents.openhands.install import WheelhouseError, ensure_sdk_wheelhouse, ensure_wheelhouse
from pytest_ohbench.agents.openhands.sdk import sdk_tree_spec
from pytest_ohbench.agents.openhands.source import (
    SourceError,
    agent_classes_of,
    ensure_source_trees,
    has_release_source,
    inspect_source,
    release_source,
)
from pytest_ohbench.core.errors import HarnessError
from pytest_ohbench.core.llm import LLMConfig, LLMConfigError, load_llm_config
from pytest_ohbench.core.suite import SuiteConfig
from pytest_ohbench.core.task import Task
from pytest_ohbench.plugin.controller import Baseline
from pytest_ohbench.plugin.settings import Settings
from pytest_ohbench.report.batch import kept_on_resume
from pytest_ohbench.report.compare import resolve_baseline
from pytest_ohbench.report.run_folder import latest_records, load_records
from pytest_ohbench.report.run_info import load_run_info
from pytest_ohbench.runtime.provider import RuntimeProvider, RuntimeSettings, RuntimeUnavailable, runtime_named


def load_baseline(settings: Settings, reports_dir: Path) -> Baseline | None:
    """The run to compare with, loaded now: before this run re-points `latest`."""
    spec, gates = settings.compare, list(settings.compare_fail)
    if spec is None and not gates:
        return None
    try:
        path = resolve_baseline(spec or "latest", reports_dir)
        return Baseline(path, load_records(path), gates, load_run_info(path))
    except (FileNotFoundError, ValueError) as exc:
        raise pytest.UsageError(f"--ohbench-compare: {exc}") from None


def resume_target(settings: Settings, reports: Path, run_id: str) -> tuple[Path, str, dict[str, str]]:
    """--ohbench-resume RUN_DIR: that folder's reports dir and id, and the items it keeps.

    Judged items are kept; batch tasks (prompt folders, GitTaskBench, Harbor) only when their
    agent run succeeded, as run_batch skips the tasks that succeeded.
    """
    if settings.resume is None:
        return reports, run_id, {}
    folder = settings.resume.resolve()
    try:
        records = latest_records(load_records(folder))
    except (FileNotFoundError, ValueError) as exc:
        raise pytest.UsageError(f"--ohbench-resume: {exc}") from None
    kept = {r.nodeid: r.outcome.value for r in records if kept_on_resume(r)}
    return folder.parent, folder.name, kept


def prepare_openhands(settings: AgentSettings, runtime: RuntimeProvider, sdk: bool = False) -> None:
    """Make OpenHands' wheelhouse and tree before any task starts: a missing OpenHands is a usage error."""
    if settings.openhands_source:
        prepare_openhands_source(settings, runtime, sdk)
    elif sdk:
        prepare_openhands_sdk(settings, runtime)
    else:
        prepare_openhands_release(settings, runtime)


def _build(what: str, build: Callable[[RuntimeProvider], object], runtime: RuntimeProvider) -> None:
    """Build a tree once per machine (the workers then only find it); no engine: each item reports it."""
    try:
        build(runtime)
    except (TreeError, SourceError) as exc:
        raise pytest.UsageError(f"{what}: {exc}") from None
    except HarnessError:
        return  # the runtime cannot be reached: every item says so


def check_agent_class(settings: AgentSettings, classes: list[str], of: str) -> None:
    if classes and settings.openhands_agent_class not in classes:
        raise pytest.UsageError(
            f"--openhands-agent-class {settings.openhands_agent_class}: not an agent class of {of} (it has: {', '.join(classes)})"
        )


def prepare_openhands_release(settings: AgentSettings, runtime: RuntimeProvider) -> None:
    """openhands-ai `--openhands-version`: its wheels, or its sdist when it has no wheel for Python 3.13."""
    given = settings.openhands_wheelhouse
    version = settings.openhands_version
    no_wheel = "no wheel for Python 3.13 was tried"
    if given:
        if not list(given.glob("openhands_ai-*.whl")):
            raise pytest.UsageError(f"--openhands-wheelhouse {given}: no openhands_ai wheel in it")
        wheelhouse = given
    elif has_release_source(version):
        wheelhouse = None
    else:
        try:
            wheelhouse = ensure_wheelhouse(version)
        except WheelhouseError as exc:
            wheelhouse, no_wheel = None, str(exc)
    if wheelhouse is None:
        try:
            source = release_source(version)
        except SourceError as exc:
            raise pytest.UsageError(
                f"--openhands-version {version}: cannot get OpenHands {version} ({no_wheel}; {exc}); pass a released "
                "version, --openhands-source DIR (a checkout) or --openhands-wheelhouse DIR (wheels for Python 3.13)"
            ) from None
        check_agent_class(settings, agent_classes_of(source), f"OpenHands {version}")
        _build(f"--openhands-version {version}", lambda built: ensure_source_trees(built, source), runtime)
        return
    check_agent_class(settings, agent_classes(wheelhouse), f"OpenHands {version}")
    _build("--agent openhands", lambda built: ensure_tree(built, tree_spec(version, wheelhouse)), runtime)


def prepare_openhands_source(settings: AgentSettings, runtime: RuntimeProvider, sdk: bool) -> None:
    """--openhands-source DIR: a checkout of the kind the agent runs, installed into its trees."""
    assert settings.openhands_source is not None
    try:
        source = inspect_source(settings.openhands_source)
    except SourceError as exc:
        raise pytest.UsageError(str(exc)) from None
    if source.kind == "v1" and not sdk:
        raise pytest.UsageError(f"--openhands-source {settings.openhands_source}: an OpenHands V1 (SDK) tree: pass --agent openhands-sdk")
    if source.kind == "0.x" and sdk:
        raise pytest.UsageError(f"--openhands-source {settings.openhands_source}: an OpenHands 0.x tree: pass --agent openhands")
    check_agent_class(settings, agent_classes_of(source), str(settings.openhands_source))
    _build(f"--openhands-source {settings.openhands_source}", lambda built: ensure_source_trees(built, source), runtime)


def prepare_openhands_sdk(settings: AgentSettings, runtime: RuntimeProvider) -> None:
    """The OpenHands V1 (SDK) wheelhouse and tree, before any task starts."""
    version = settings.openhands_sdk_version
    try:
        wheelhouse = ensure_sdk_wheelhouse(version)
    except WheelhouseError as exc:
        raise pytest.UsageError(f"--agent openhands-sdk: cannot get openhands-sdk {version} wheels for Python 3.13 ({exc})") from None
    _build("--agent openhands-sdk", lambda built: ensure_tree(built, sdk_tree_spec(version, wheelhouse)), runtime)


def prepare_installed(name: str, settings: AgentSettings, runtime: RuntimeProvider) -> None:
    """An installed agent's tree (Claude Code, Codex, ...) before any task starts: a release npm cannot get is a usage error."""
    from pytest_ohbench.agents.installed.agent import InstalledAgent

    agent = load_agent(name)(settings)
    if isinstance(agent, InstalledAgent):
        _build(f"--agent {name}", agent.tree_mounts, runtime)


def output_limit_warnings(llms: dict[str, LLMConfig]) -> list[str]:
    """A warning per section whose max_output_tokens is above its model's limit, where litellm knows it.

    Providers reject such requests ("max_tokens is too large") on every call of every item.
    """
    sections = [llm for llm in llms.values() if llm.max_output_tokens]
    if not sections:
        return []
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # the bundled map: no download
    import litellm  # imported only when a section sets a limit (it takes seconds)

    warnings = []
    for llm in sections:
        try:
            limit = litellm.get_model_info(llm.model).get("max_output_tokens")
        except Exception:  # a model litellm does not know: nothing to check against
            continue
        if limit and llm.max_output_tokens and llm.max_output_tokens > limit:
            warnings.append(
                f"[llm.{llm.name}] max_output_tokens = {llm.max_output_tokens} is above {llm.model}'s limit of {limit} "
                "(litellm): its requests may fail with 'max_tokens is too large'"
            )
    return warnings


def load_llm_sections(settings: Settings) -> dict[str, LLMConfig]:
    """The --llm-config sections, loaded once per process (usage error on any problem)."""
    names, path = settings.llm_sections, settings.config_path
    if not names:
        return {}
    loaded: dict[str, LLMConfig] = {}
    for name in names:
        try:
            llm = load_llm_config(path, name)
        except LLMConfigError as exc:
            raise pytest.UsageError(f"--llm-config {name}: {exc}") from None
        loaded[llm.name] = llm
    return loaded


def prepare_runtime(name: str, settings: RuntimeSettings) -> list[str]:
    """The runtime can be used (else a usage error, one line); what killed runs left is removed."""
    try:
        return runtime_named(name).prepare_session(settings)
    except RuntimeUnavailable as exc:
        raise pytest.UsageError(str(exc)) from None


def preflight(name: str, settings: RuntimeSettings, needs: Sequence[tuple[Task, SuiteConfig]]) -> str | None:
    """--ohbench-preflight: why the selected items cannot all start (the images that cannot be
    had, one line each), or None when they can."""
    missing = runtime_named(name).missing_images(settings, needs)
    if not missing:
        return None
    return (f"preflight: {len(missing)} image(s) the selected items need cannot be had; no item was run "
            "(--ohbench-preflight off runs them anyway):\n" + "\n".join(f"  {line}" for line in missing))


def preflight_file(run_id: str) -> Path:
    """Where an xdist worker leaves its preflight's finding for the controller (workers collect, the
    controller does not): outside the run folder, which does not exist before the first result."""
    return Path(tempfile.gettempdir()) / f"ohbench-preflight-{run_id}.txt"
