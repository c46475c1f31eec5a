"""Session set-up from the options: LLM sections, resume, baseline, OpenHands (usage errors)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_ohbench.agents.base import AgentSettings
from pytest_ohbench.agents.openhands_install import WheelhouseError, ensure_wheelhouse
from pytest_ohbench.controller import Baseline
from pytest_ohbench.llm import LLMConfig, LLMConfigError, load_llm_config
from pytest_ohbench.report.batch import kept_on_resume
from pytest_ohbench.report.compare import resolve_baseline
from pytest_ohbench.report.run_folder import latest_records, load_records
from pytest_ohbench.report.run_info import load_run_info
from pytest_ohbench.runtime.docker import docker_client, remove_orphaned_containers, unreachable_message
from pytest_ohbench.settings import Settings


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


def prepare_openhands(settings: AgentSettings) -> None:
    """Make the OpenHands wheelhouse before any task starts: a missing OpenHands is a usage error."""
    given = settings.openhands_wheelhouse
    if given:
        if not list(given.glob("openhands_ai-*.whl")):
            raise pytest.UsageError(f"--openhands-wheelhouse {given}: no openhands_ai wheel in it")
        return
    version = settings.openhands_version
    try:
        ensure_wheelhouse(version)
    except WheelhouseError as exc:
        raise pytest.UsageError(
            f"--agent openhands: cannot get OpenHands {version} ({exc}); pass --openhands-wheelhouse DIR "
            "with openhands-ai and its dependencies as wheels for Python 3.13"
        ) from None


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


def check_engine(hosts: tuple[str, ...] = ()) -> list[str]:
    """Every engine answers (else a usage error naming it); remove orphaned containers, named."""
    removed: list[str] = []
    for host in hosts or (None,):
        try:
            client = docker_client(host)
        except Exception as exc:  # the SDK raises several types for "no engine"
            option = f"--ohbench-docker-host {host}: " if host else ""
            raise pytest.UsageError(option + unreachable_message(exc, host)) from None
        try:
            removed += remove_orphaned_containers(client)
        finally:
            client.close()
    return removed
