"""Acceptance of the report: real runs of the bundled suite with two models (the scripted LLM
server, the mini agent, real containers), the page opened in headless Chromium, and the
offline compare command against the plugin's own gate on the same runs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLES_SWE, REPO_ROOT
from pngcheck import colour_counts, hex_rgb

from pytest_ohbench.report.charts import OUTCOME_COLORS
from pytest_ohbench.tools.testing.browser import Browser, BrowserError
from pytest_ohbench.tools.testing.llm_server import ScriptedLLMServer

pytestmark = pytest.mark.docker
# Where screenshots go for a person (or CI's artifact upload) to look at.
OUTPUT = Path(os.environ.get("OHBENCH_TEST_OUTPUT", REPO_ROOT / "test-output"))
SUBMIT = "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"
FIXES = {
    "truncate returns one character too many": "sed -i 's/width - len(ellipsis) + 1]/width - len(ellipsis)]/' textkit/wrap.py",
    "Touching intervals do not overlap": (
        "sed -i 's/self.start < other.end and other.start < self.end/self.start <= other.end and other.start <= self.end/'"
        " intervals/core.py"
    ),
    "slugify leaves double dashes": "sed -i 's/r\"\\[^a-z0-9\\]\"/r\"[^a-z0-9]+\"/' textkit/slug.py",
}
CONFIG = """\
[llm]
api_key = "sk-test"
base_url = "{base_url}"
num_retries = 0

[llm.gpt]
model = "openai/gpt-4o"
input_cost_per_token = 0.000001
output_cost_per_token = 0.000002

[llm.claude]
model = "openai/claude-x"
input_cost_per_token = 0.000003
output_cost_per_token = 0.000015
"""


def bash(command: str, prompt: int, completion: int) -> dict[str, Any]:
    return {"content": "ok", "tool_calls": [{"name": "bash", "arguments": {"command": command}}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion}}


def script(solved: dict[str, list[str]]) -> dict[str, Any]:
    """Each model solves the issues named for it and gives up on the rest."""
    scripts = []
    for model, issues in solved.items():
        for issue in issues:
            # mini-swe-agent's protocol: the graded patch is what follows the submit marker.
            fix, submit = f"{FIXES[issue]} && git diff > patch.txt", f"{SUBMIT} && cat patch.txt"
            responses = [bash("ls", 900, 30), bash(fix, 1100, 60), bash(submit, 1300, 20)]
            scripts.append({"match": issue, "model": model, "responses": responses})
        scripts.append({"model": model, "responses": [bash("ls", 800, 10), bash(SUBMIT, 850, 5)]})
    return {"scripts": scripts}


BASELINE = {"gpt-4o": list(FIXES), "claude-x": ["truncate returns one character too many"]}
# Now gpt loses the intervals fix and claude gains it.
CURRENT = {"gpt-4o": [issue for issue in FIXES if "intervals" not in issue.lower()],
           "claude-x": ["truncate returns one character too many", "Touching intervals do not overlap"]}
GATES = ["--ohbench-compare-fail", "instance", "--ohbench-compare-fail", "resolved_rate:significant", "--ohbench-compare-fail", "cost:+100%"]


def pytest_run(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pytest", "suites", "-p", "no:cacheprovider", *args]
    return subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=600)


def offline(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest_ohbench", *args], cwd=folder, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory, base_image: str) -> Path:
    folder = tmp_path_factory.mktemp("two-models")
    shutil.copytree(EXAMPLES_SWE, folder / "suites" / "swe", ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    return folder


@pytest.fixture(scope="module")
def two_model_runs(workdir: Path) -> dict[str, subprocess.CompletedProcess[str]]:
    """A baseline run and a current run gated against it: mini with two models, 5 instances each."""
    results = {}
    for run_id, solved, extra in (("base", BASELINE, []), ("now", CURRENT, ["--ohbench-compare", "reports/base", *GATES])):
        with ScriptedLLMServer(script(solved)) as server:
            (workdir / "config.toml").write_text(CONFIG.format(base_url=server.base_url))
            results[run_id] = pytest_run(
                workdir, "--agent", "mini", "--llm-config", "gpt", "--llm-config", "claude", "--ohbench-run-id", run_id,
                "--ohbench-progress", "4", *extra,
            )
    return results


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    try:
        with Browser(width=1400, height=1100) as opened:
            yield opened
    except BrowserError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but chromium cannot run: {exc} (bash scripts/bootstrap.sh --test installs it)", pytrace=False)
        pytest.skip(str(exc))


def test_the_two_model_runs_record_what_the_script_says(workdir: Path, two_model_runs: dict[str, Any]) -> None:
    base = two_model_runs["base"]
    assert base.returncode == 1, base.stdout[-3000:]  # the unsolved items fail
    records = [json.loads(line) for line in (workdir / "reports" / "base" / "results.jsonl").read_text().splitlines()]
    resolved = {(r["instance_id"], r["model"]) for r in records if r["outcome"] == "resolved"}
    assert resolved == {
        ("ohbench__textkit-2", "gpt"), ("ohbench__intervals-1", "gpt"), ("ohbench__textkit-1", "gpt"), ("ohbench__textkit-2", "claude"),
    }
    # Progress every 4 items, with what was resolved and spent so far, and the last item.
    progress = [line for line in base.stdout.splitlines() if line.startswith("ohbench progress: ")]
    assert [line.split()[2] for line in progress] == ["4/10", "8/10", "10/10"]
    spent = sum(r["cost_usd"] for r in records)
    assert progress[-1].startswith(f"ohbench progress: 10/10 items, 4 resolved, ${spent:.4f} spent, ")


def test_the_page_top_shows_both_models_with_intervals_and_the_charts(
    workdir: Path, two_model_runs: dict[str, Any], browser: Browser, record_property: Any
) -> None:
    page = workdir / "reports" / "base" / "report.html"
    seconds = browser.open(page)
    headline = browser.evaluate(
        "Array.from(document.querySelectorAll('#ohbench-headline tbody tr')).map(r => Array.from(r.cells).map(c => c.innerText))"
    )
    by_model = {row[0]: row for row in headline}
    assert set(by_model) == {"claude", "gpt", "total"}
    assert by_model["gpt"][3:5] == ["3 / 5", "60.0% [23.1% - 88.2%]"]  # Wilson 95% for 3 of 5
    assert by_model["claude"][3:5] == ["1 / 5", "20.0% [3.6% - 62.4%]"]
    # Above the fold: the headline and both charts, drawn with data.
    boxes = browser.evaluate(
        "['#ohbench-headline', '.ohbench-chart-outcomes', '.ohbench-chart-cost'].map(s => {"
        "const r = document.querySelector(s).getBoundingClientRect(); return [r.top, r.bottom, r.width]; })"
    )
    assert all(width > 200 and bottom <= 1100 for _, bottom, width in boxes), boxes
    bars = browser.evaluate(
        "Array.from(document.querySelectorAll('.ohbench-chart-outcomes rect.ohbench-bar')).map(r => [r.dataset.outcome, +r.dataset.count, r.getBBox().width])"
    )
    assert sorted((o, c) for o, c, _ in bars) == [("empty_patch", 2), ("empty_patch", 4), ("resolved", 1), ("resolved", 3)]
    assert all(width > 20 for _, _, width in bars)
    assert browser.evaluate("document.querySelectorAll('.ohbench-chart-cost g.ohbench-point').length") == 2
    screenshot = browser.screenshot()
    colours = colour_counts(screenshot)
    assert colours[hex_rgb(OUTCOME_COLORS["resolved"])] > 1000 and colours[hex_rgb(OUTCOME_COLORS["empty_patch"])] > 1000
    OUTPUT.mkdir(parents=True, exist_ok=True)
    attached = OUTPUT / "report-two-models.png"
    attached.write_bytes(screenshot)
    record_property("screenshot", str(attached))
    print(f"report.html loaded in {seconds:.2f} s; screenshot: {attached}")


def test_offline_compare_gives_the_plugins_verdict_and_exit_code(workdir: Path, two_model_runs: dict[str, Any], browser: Browser) -> None:
    now = two_model_runs["now"]
    plugin = json.loads((workdir / "reports" / "now" / "compare.json").read_text())
    assert plugin["failed"] and plugin["lost"] == 1 and plugin["gained"] == 1
    verdicts = {g["gate"]: g["passed"] for g in plugin["gates"]}
    assert verdicts == {"instance": False, "resolved_rate:significant": True, "cost:+100%": True}
    assert now.returncode == 1 and "  FAIL instance: 1 regressed: ohbench__intervals-1[gpt]" in now.stdout
    args = ["compare", "base", "now", "--fail", "instance", "--fail", "resolved_rate:significant", "--fail", "cost:+100%"]
    result = offline(workdir, *args)
    assert result.returncode == 1
    # The same lines as the plugin's terminal summary, in the same order.
    plugin_lines = now.stdout.splitlines()
    start = next(i for i, line in enumerate(plugin_lines) if line.startswith("compared with "))
    end = next(i for i, line in enumerate(plugin_lines) if i > start and not line.startswith("  "))
    assert result.stdout.splitlines() == plugin_lines[start:end]
    assert len(plugin_lines[start:end]) == 5  # header, flips, three gates
    document = json.loads(offline(workdir, *args, "--json").stdout)
    assert document == plugin
    # The page of the gated run says so at its top.
    browser.open(workdir / "reports" / "now" / "report.html")
    assert browser.evaluate("document.querySelector('#ohbench-gate').innerText").startswith("gate: FAIL")
    assert "ohbench__intervals-1[gpt]" in browser.evaluate("document.querySelector('#ohbench-comparison').parentNode.innerText")


def test_a_passing_gate_exits_0_both_ways_and_pytest_html_keeps_its_columns(workdir: Path, browser: Browser) -> None:
    first = pytest_run(workdir, "--agent", "oracle", "-k", "textkit", "--ohbench-run-id", "oracle-1")
    assert first.returncode == 0, first.stdout[-2000:]
    second = pytest_run(
        workdir, "--agent", "oracle", "-k", "textkit", "--ohbench-run-id", "oracle-2", "--ohbench-compare", "reports/oracle-1",
        "--ohbench-compare-fail", "instance", "--ohbench-compare-fail", "resolved_rate:significant", "--html", "pytest-html.html",
    )
    assert second.returncode == 0, second.stdout[-2000:]
    result = offline(workdir, "compare", "oracle-1", "oracle-2", "--fail", "instance", "--fail", "resolved_rate:significant")
    assert result.returncode == 0 and "  ok   instance: 0 regressed" in result.stdout
    # Asked for with --html, pytest-html's own page still gets the ohbench columns.
    browser.open(workdir / "pytest-html.html")
    dom = browser.evaluate("document.documentElement.outerHTML")
    assert dom.count('<td class="col-ohbench-outcome">resolved</td>') == 3
