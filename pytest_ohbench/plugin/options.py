"""Every option of the plugin, declared once: its flags, type, default, ini key, environment
variable and help. `add_options` makes the command line and the ini keys from it, `value`
reads an option as the settings do (command line, then ini, then environment, then default),
and `markdown_table` is the options table of docs/options.md (tests/tools/test_docs.py
checks that the page holds it as made here).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from pytest_ohbench.agents.base import (
    DEFAULT_AIDER_VERSION,
    DEFAULT_CLAUDE_CODE_VERSION,
    DEFAULT_CODEX_VERSION,
    DEFAULT_GEMINI_CLI_VERSION,
    DEFAULT_OPENCODE_VERSION,
    DEFAULT_OPENHANDS_SDK_VERSION,
    DEFAULT_OPENHANDS_VERSION,
    DEFAULT_QWEN_CODE_VERSION,
)
from pytest_ohbench.agents.openhands.settings import CONDENSERS
from pytest_ohbench.core.suite import SKIP_RULES
from pytest_ohbench.plugin.converters import (
    container_limit,
    docker_host,
    existing_file,
    gate_expression,
    non_negative_float,
    non_negative_int,
    perf_criterion,
    perf_repeats,
    positive_int,
)

GROUP = ("ohbench", "coding-agent benchmarks (pytest-ohbench)")


@dataclasses.dataclass(frozen=True)
class Option:
    """One option: what the user types, where else its value may come from, and what it means."""

    flags: tuple[str, ...]
    dest: str
    help: str  # one line: argparse's help and the docs table's meaning
    type: Callable[[str], Any] | None = None  # converter of the command line, ini and environment values
    default: Any = None  # when nothing sets it (None: the settings decide, e.g. from config.toml)
    shown_default: str = ""  # the default as the docs say it, when `default` does not say it well
    ini: bool = False  # an ini key named like `dest`
    ini_type: str | None = None  # "linelist" for a repeatable option's ini key
    env: str | None = None  # an environment variable that gives a value when the command line does not
    action: str | None = None  # store_true, append
    choices: tuple[str, ...] | None = None
    metavar: str | None = None
    nargs: str | None = None
    const: Any = None

    @property
    def default_text(self) -> str:
        """The default as the docs and --help say it ("" when there is none to say)."""
        return self.shown_default or ("" if self.default in (None, [], False) else str(self.default))

    @property
    def full_help(self) -> str:
        """--help's text: the meaning, then the default, the ini key and the environment variable."""
        extra = [f"default: {self.default_text}" if self.default_text else "", f"ini: {self.dest}" if self.ini else "",
                 f"env: {self.env}" if self.env else ""]
        extra = [part for part in extra if part]
        return self.help + (f" ({'; '.join(extra)})" if extra else "")

    @property
    def shown(self) -> str:
        """The flags as the docs show them, with their metavar."""
        suffix = "" if self.action == "store_true" else f" {self.metavar or self.dest.split('_')[-1].upper()}"
        if self.nargs == "?":
            suffix = f" [{self.metavar}]"
        return ", ".join(f"`{flag}{suffix}`" for flag in self.flags)


OPTIONS: tuple[Option, ...] = (
    Option(("--agent",), "ohbench_agent", "the agent: openhands (the default with --llm-config), oracle, noop, replay, mini, command, "
           "...; repeat to compare agents (items <id>[NAME])", action="append", default=[], ini=True, ini_type="linelist", metavar="NAME"),
    Option(("--ohbench-predictions",), "ohbench_predictions", "recorded patches for --agent replay (SWE-bench predictions or OpenHands output.jsonl)",
           type=existing_file, metavar="FILE"),
    Option(("--ohbench-limit", "--eval-n-limit"), "ohbench_limit", "keep only the first N selected tasks", type=positive_int, ini=True,
           metavar="N"),
    Option(("--ohbench-skip-ids",), "ohbench_skip_ids", "instance ids to leave out, comma-separated (repeatable; the environment adds to them)",
           action="append", default=[], env="SKIP_IDS", metavar="IDS"),
    Option(("--ohbench-image-prefix",), "ohbench_image_prefix", "registry/namespace of Multi-SWE-bench instance images instead of mswebench",
           env="EVAL_DOCKER_IMAGE_PREFIX", metavar="PREFIX"),
    Option(("--ohbench-image-tars",), "ohbench_image_tars", "a folder of `docker save` tars: a missing task image is loaded from the tar that holds it",
           metavar="DIR"),
    Option(("--ohbench-report-dir",), "ohbench_report_dir", "folder of run folders, relative to the current directory", default="reports",
           ini=True, metavar="DIR"),
    Option(("--ohbench-run-id",), "ohbench_run_id", "name of this run's folder (default: UTC time and a random suffix)", metavar="ID"),
    Option(("--llm-config",), "ohbench_llm_configs", "an [llm.SECTION] of the config file to run with (llm.gpt or gpt); repeat to compare models",
           action="append", default=[], metavar="SECTION"),
    Option(("--ohbench-config",), "ohbench_config", "the OpenHands-style config.toml with the [llm] sections", default="config.toml", ini=True,
           metavar="PATH"),
    Option(("--ohbench-hints",), "ohbench_hints", "add each instance's hints_text to the agent's prompt", action="store_true",
           env="USE_HINT_TEXT"),
    Option(("--ohbench-max-steps",), "ohbench_max_steps", "LLM calls an agent may make per task", type=positive_int, ini=True, default=100,
           shown_default="config.toml's [core] max_iterations, else 100", metavar="N"),
    Option(("--ohbench-max-cost-per-task",), "ohbench_max_cost_per_task", "USD an agent may spend per task, 0 for no limit",
           type=non_negative_float, ini=True, default=3.0, shown_default="config.toml's [core] max_budget_per_task, else 3", metavar="USD"),
    Option(("--ohbench-attempts",), "ohbench_attempts", "run every task K times (items <id>[aN]) and report pass@k", type=positive_int,
           default=1, metavar="K"),
    Option(("--ohbench-retries",), "ohbench_retries", "rerun an item that failed for an infrastructure cause (OOM kill, image pull, engine, "
           "LLM 5xx) up to N times, an OOM-killed agent with twice the memory (at most 4x the suite's); never a judged failure",
           type=non_negative_int, default=0, metavar="N"),
    Option(("--ohbench-max-cost",), "ohbench_max_cost", "budget of the whole run in USD: once spent, no new task starts (the rest are not_run)",
           type=non_negative_float, metavar="USD"),
    Option(("--ohbench-resume",), "ohbench_resume", "continue a run in its folder: judged items are kept, the others run", metavar="RUN_DIR"),
    Option(("--ohbench-compare",), "ohbench_compare", "compare with a baseline run folder, run id or 'latest' (the default)", nargs="?",
           const="latest", metavar="RUN"),
    Option(("--ohbench-compare-fail",), "ohbench_compare_fail", "fail when a gate is exceeded: resolved_rate:-2%, cost:+10%, "
           "tokens:+15%, time:+20%, instance (repeatable)", type=gate_expression, action="append", default=[], metavar="EXPR"),
    Option(("--ohbench-flaky",), "ohbench_flaky", "instances the `instance` gate ignores: a file of ids or patterns, one a line (repeatable; "
           "the ini key lists the ids or patterns themselves)",
           type=existing_file, action="append", default=[], ini=True, ini_type="linelist", metavar="FILE"),
    Option(("--ohbench-progress",), "ohbench_progress", "a progress line every N finished items (0: never)", type=non_negative_int,
           ini=True, shown_default="about 10 a run, at least one a minute; none with -q", metavar="N"),
    Option(("--ohbench-command",), "ohbench_command", "the CLI of --agent command, with {prompt_file}, {workspace}, {model}", ini=True,
           metavar="TEMPLATE"),
    Option(("--ohbench-skip-rule",), "ohbench_skip_rule", "strict (a skipped PASS_TO_PASS test fails) or official (the swebench "
           "package's verdict on the same log); over suite.yaml test.skipped_p2p", choices=SKIP_RULES, metavar="RULE"),
    Option(("--ohbench-llm-record",), "ohbench_llm_record", "keep every item's LLM exchanges as a cassette in the run folder, secrets masked",
           action="store_true"),
    Option(("--ohbench-llm-replay",), "ohbench_llm_replay", "answer every LLM request from the cassettes of RUN: no network, no cost",
           metavar="RUN"),
    Option(("--ohbench-llm-retries",), "ohbench_llm_retries", "times the LLM gateway retries an upstream 429/5xx answer, with backoff",
           type=non_negative_int, ini=True, default=3, metavar="N"),
    Option(("--ohbench-gateway-host",), "ohbench_gateway_host", "the address the run's LLM gateway listens on: one that workers "
           "on other hosts (xdist --tx ssh=/socket=) reach; they get item tokens, never a key", ini=True, default="127.0.0.1",
           metavar="ADDR"),
    Option(("--ohbench-allow-internet",), "ohbench_allow_internet", "agents' containers get the host's network (its services, the "
           "internet) instead of a sealed one that reaches only the run's LLM gateway", action="store_true"),
    Option(("--ohbench-runtime",), "ohbench_runtime", "where tasks run: docker, local (a temp folder, no isolation: prompt and "
           "GitTaskBench tasks) or a runtime a plug-in registers", ini=True, default="docker", metavar="NAME"),
    Option(("--ohbench-preflight",), "ohbench_preflight", "on: before the first item, check that every image the selected items "
           "need is here, in a tar, pullable or buildable, and stop with the list of those that are not; off: find out item by item",
           ini=True, default="on", choices=("on", "off"), metavar="MODE"),
    Option(("--ohbench-docker-host",), "ohbench_docker_hosts", "a Docker engine to run tasks on (unix://, tcp:// with DOCKER_TLS_*, "
           "ssh://); repeat to spread xdist workers over several (default: DOCKER_HOST)", type=docker_host, action="append", default=[],
           ini=True, ini_type="linelist", metavar="URL"),
    Option(("--ohbench-max-containers",), "ohbench_max_containers", "at most N containers at once per engine, shared by every worker and "
           "run of the host (at least 2; default: no limit)", type=container_limit, ini=True, metavar="N"),
    Option(("--ohbench-perf-criterion",), "ohbench_perf_criterion", "perf tasks: gso (default), swefficiency or sweperf; over suite.yaml "
           "perf.criterion", type=perf_criterion, ini=True, metavar="NAME"),
    Option(("--ohbench-perf-target",), "ohbench_perf_target", "perf tasks: the criterion's bar (gso: fraction of the human's speed, "
           "default 0.95); over suite.yaml perf.target", type=non_negative_float, ini=True, metavar="X"),
    Option(("--ohbench-perf-repeats",), "ohbench_perf_repeats", "perf tasks: timed rounds per state (default 7); over suite.yaml "
           "perf.repeats", type=perf_repeats, ini=True, metavar="N"),
    Option(("--openhands-version",), "openhands_version", "openhands-ai release for --agent openhands (a release without a Python 3.13 "
           "wheel is built from its sdist)", default=DEFAULT_OPENHANDS_VERSION, metavar="V"),
    Option(("--openhands-wheelhouse",), "openhands_wheelhouse", "wheels for Python 3.13 with openhands-ai instead of the downloaded ones",
           metavar="DIR"),
    Option(("--openhands-agent-class",), "openhands_agent_class", "OpenHands agent class present in the version", default="CodeActAgent",
           metavar="NAME"),
    Option(("--openhands-enable-browsing",), "openhands_enable_browsing", "OpenHands [agent] enable_browsing (default: off, headless)",
           action="store_true"),
    Option(("--openhands-condenser",), "openhands_condenser", "OpenHands [condenser] type", choices=tuple(sorted(CONDENSERS)),
           default="noop", metavar="TYPE"),
    Option(("--openhands-condenser-size",), "openhands_condenser_max_events", "events the condenser keeps (max_events, max_size or "
           "attention_window)", type=positive_int, default=40, metavar="N"),
    Option(("--openhands-sdk-version",), "openhands_sdk_version", "openhands-sdk/-tools release for --agent openhands-sdk (OpenHands V1)",
           default=DEFAULT_OPENHANDS_SDK_VERSION, metavar="V"),
    Option(("--openhands-source",), "openhands_source", "a checkout or fork of OpenHands (0.x, or V1 with --agent openhands-sdk) to run "
           "instead of a release", metavar="DIR"),
    Option(("--openhands-eval-note",), "openhands_eval_note", "the _N_<NOTE> suffix of the outputs/ run_infer folder", metavar="NOTE"),
    Option(("--claude-code-version",), "claude_code_version", "@anthropic-ai/claude-code release (npm) for --agent claude-code",
           default=DEFAULT_CLAUDE_CODE_VERSION, metavar="V"),
    Option(("--gemini-cli-version",), "gemini_cli_version", "@google/gemini-cli release (npm) for --agent gemini-cli",
           default=DEFAULT_GEMINI_CLI_VERSION, metavar="V"),
    Option(("--qwen-code-version",), "qwen_code_version", "@qwen-code/qwen-code release (npm) for --agent qwen-code",
           default=DEFAULT_QWEN_CODE_VERSION, metavar="V"),
    Option(("--aider-version",), "aider_version", "aider-chat release (PyPI) for --agent aider",
           default=DEFAULT_AIDER_VERSION, metavar="V"),
    Option(("--codex-version",), "codex_version", "@openai/codex release (npm) for --agent codex", default=DEFAULT_CODEX_VERSION,
           metavar="V"),
    Option(("--opencode-version",), "opencode_version", "opencode-ai release (npm) for --agent opencode",
           default=DEFAULT_OPENCODE_VERSION, metavar="V"),
)
BY_DEST = {option.dest: option for option in OPTIONS}


def add_options(parser: pytest.Parser) -> None:
    """Every option on the command line (one group), and the ini keys of those that have one."""
    group = parser.getgroup(*GROUP)
    for option in OPTIONS:
        keywords: dict[str, Any] = {"dest": option.dest, "help": option.full_help.replace("%", "%%"), "metavar": option.metavar}
        if option.action == "store_true":
            keywords = {"dest": option.dest, "help": keywords["help"], "action": "store_true", "default": False}
        else:
            # No argparse default: an option not given is None ([] when repeatable), so the ini
            # key, the environment and the table's default can come next.
            keywords.update(default=[] if option.action == "append" else None)
            for name in ("type", "action", "choices", "nargs", "const"):
                if getattr(option, name) is not None:
                    keywords[name] = getattr(option, name)
        group.addoption(*option.flags, **keywords)
        if option.ini:
            if option.ini_type == "linelist":
                parser.addini(option.dest, f"{option.help} (one a line)", type="linelist", default=[])
            else:
                parser.addini(option.dest, f"default for {option.flags[0]}", default="")


def _convert(option: Option, raw: str, where: str) -> Any:
    if option.type is None:
        return raw
    try:
        return option.type(raw)
    except argparse.ArgumentTypeError as exc:
        raise pytest.UsageError(f"{where} (for {option.flags[0]}): {exc}") from None


def value(config: pytest.Config, dest: str, default: Any = None) -> Any:
    """An option's value: the command line, else its ini key, else its environment variable,
    else `default` (when given) or the table's default. Repeatable options give a list: the
    command line's, else the ini lines; a flag is set by the command line or a true variable."""
    option = BY_DEST[dest]
    given = config.getoption(dest)
    if option.action == "store_true":
        return bool(given) or (option.env is not None and os.environ.get(option.env, "").strip().lower() in ("1", "true", "yes"))
    if option.action == "append":
        if given:
            return list(given)
        if option.ini:
            lines = [str(line).strip() for line in config.getini(dest) or () if str(line).strip()]
            if lines:
                return [_convert(option, line, f"ini option {dest}") for line in lines]
        return []
    if given is not None:
        return given
    if option.ini:
        raw = str(config.getini(dest) or "").strip()
        if raw:
            return _convert(option, raw, f"ini option {dest}")
    if option.env and os.environ.get(option.env, "").strip():
        return _convert(option, os.environ[option.env].strip(), f"environment variable {option.env}")
    return option.default if default is None else default


def markdown_table(options: Sequence[Option] = OPTIONS) -> str:
    """The options table of docs/options.md."""
    lines = ["| option | ini key | environment | default | meaning |", "|---|---|---|---|---|"]
    for option in options:
        default = f"`{option.default}`" if option.default_text and not option.shown_default else option.shown_default
        lines.append(
            f"| {option.shown} | {f'`{option.dest}`' if option.ini else ''} | {f'`{option.env}`' if option.env else ''} "
            f"| {default} | {option.help} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # python -m pytest_ohbench.plugin.options: the table for docs/options.md
    print(markdown_table(), end="")
