"""`python -m pytest_ohbench`: run folders summarized, compared, listed and rebuilt offline."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_ohbench.report.compare import compare_runs, parse_gate, report_lines
from pytest_ohbench.report.run_folder import load_records
from pytest_ohbench.tools.cli import main
from pytest_ohbench.tools.testing.synthetic import make_records, random_flips, rerun, write_run


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    """reports/ with a baseline, a noisy rerun of it, a real drop, and `latest` -> drop."""
    reports = tmp_path / "reports"
    base = make_records(60, {"gpt": 0.5, "claude": 0.35}, run_id="base", seed=3, costs={"gpt": 0.02, "claude": 0.04})
    lose, gain = random_flips(base, 4, seed=5)
    write_run(reports / "base", base, logs=True)
    write_run(reports / "noise", rerun(base, lose=lose, gain=gain[:3], run_id="noise"), logs=True)
    lose, gain = random_flips(base, 15, seed=6)
    write_run(reports / "drop", rerun(base, lose=lose, gain=gain[:1], run_id="drop"), logs=True)
    (reports / "latest").symlink_to("drop", target_is_directory=True)
    return reports


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The real command, in a subprocess: exit code and output as a user sees them."""
    return subprocess.run([sys.executable, "-m", "pytest_ohbench", *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_compare_gates_noise_and_drops_with_the_plugins_exit_codes(reports: Path) -> None:
    noise = run_cli("compare", "base", "noise", "--fail", "resolved_rate:significant", cwd=reports.parent)
    assert noise.returncode == 0, noise.stderr
    assert "  ok   resolved_rate: " in noise.stdout and "not significant at 0.05" in noise.stdout
    drop = run_cli("compare", "base", "latest", "--fail", "resolved_rate:significant", "--fail", "cost:+50%", cwd=reports.parent)
    assert drop.returncode == 1
    lines = drop.stdout.splitlines()
    before = sum(r.resolved for r in load_records(reports / "base"))
    assert lines[0] == f"compared with {(reports / 'base').resolve()}: 120 instance(s) in both runs"
    assert lines[1] == f"  resolved {before} -> {before - 14} of 120: 15 lost, 1 gained (McNemar exact p = 0.000519)"
    rates = f"{100 * before / 120:.1f}% -> {100 * (before - 14) / 120:.1f}% (-11.7 pts; 15 lost, 1 gained"
    assert lines[2].startswith(f"  FAIL resolved_rate: {rates}") and lines[3].startswith("  ok   cost:")
    # What the plugin prints for the same records and gates, line for line.
    gates = [parse_gate("resolved_rate:significant"), parse_gate("cost:+50%")]
    expected = compare_runs(load_records(reports / "base"), load_records(reports / "drop"), gates, str((reports / "base").resolve()))
    assert lines == [line for line, _ in report_lines(expected, [])]


def test_compare_json_and_flaky_files(reports: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", str(reports / "base"), str(reports / "noise"), "--fail", "instance", "--json"]) == 1
    document = json.loads(capsys.readouterr().out)
    regressed = document["gates"][0]["regressed"]
    assert document["failed"] and len(regressed) == 4 and document["unlike_settings"] == []
    flaky = tmp_path / "flaky.txt"
    flaky.write_text("".join(f"{name}\n" for name in regressed))
    assert main(["compare", str(reports / "base"), str(reports / "noise"), "--fail", "instance", "--flaky", str(flaky)]) == 0
    assert "instance: 0 regressed (ignored as flaky: " in capsys.readouterr().out


def test_compare_prints_the_settings_the_runs_differ_in(reports: Path, capsys: pytest.CaptureFixture[str]) -> None:
    info = {"agent": "mini", "models": {"gpt": {"model": "openai/gpt-4o", "temperature": 0.0}}}
    (reports / "base" / "run.json").write_text(json.dumps(info))
    info["models"]["gpt"]["temperature"] = 0.7
    (reports / "noise" / "run.json").write_text(json.dumps(info))
    assert main(["compare", "base", "noise", "--reports", str(reports)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:2] == [
        "ohbench: WARNING: the baseline ran with other settings (1):",
        "  models.gpt.temperature: baseline 0.0, now 0.7",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["compare", "base", "noise", "--fail", "resolved_rate:+2%"], "bad gate 'resolved_rate:+2%': resolved_rate takes a drop"),
        (["compare", "base", "nope"], "ERROR: run 'nope' not found (looked in nope, reports/nope)"),
        (["compare", "gone", "noise"], "ERROR: baseline run 'gone' not found"),
        (["summary", "reports"], "ERROR: "),  # a folder of runs is not a run
        (["list", "elsewhere"], "ERROR: elsewhere: no such folder of run folders"),
        (["report", "base", "--flaky", "missing.txt"], "ERROR: --flaky missing.txt: cannot read it"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_usage_errors_exit_4_in_one_line(
    reports: Path, args: list[str], message: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(reports.parent)
    try:
        code = main(args)
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    assert code == 4
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_the_command_line_exits_4_on_a_bad_gate(reports: Path) -> None:
    result = run_cli("compare", "base", "noise", "--fail", "speed:+1%", cwd=reports.parent)
    assert result.returncode == 4 and "bad gate 'speed:+1%': unknown metric 'speed'" in result.stderr


def test_summary_table_and_json(reports: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary", "base", "--reports", str(reports)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split()[:5] == ["model", "agent", "suite", "n", "resolved"]
    assert [line.split()[0] for line in lines[2:5]] == ["claude", "gpt", "total"]
    assert lines[-1].startswith("wall time 600.0 s (from time stamps); item time summed ")
    assert main(["summary", str(reports / "base"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["totals"]["instances"] == 120 and summary["wall_source"] == "timestamps"


def test_list_shows_each_run_with_its_headline(reports: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (reports / "not-a-run").mkdir()
    assert main(["list", str(reports)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["run", "agent", "models", "items", "resolved", "rate", "cost", "$", "wall", "report"]
    rows = {line.split()[0]: line.split() for line in lines[1:4]}
    assert set(rows) == {"base", "drop", "noise"} and rows["drop"][1] == "*" and lines[-1] == "* latest"
    before = sum(r.resolved for r in load_records(reports / "base"))
    assert rows["base"][1:6] == ["mini", "claude,gpt", "120", f"{before}/120", f"{100 * before / 120:.1f}%"]
    assert rows["drop"][5] == f"{before - 14}/120"  # after the "*"
    assert main(["list", str(reports / "base" / "logs")]) == 0
    assert "no run folders in" in capsys.readouterr().out


def test_report_rebuilds_summary_and_page_and_keeps_its_baseline(reports: Path, capsys: pytest.CaptureFixture[str]) -> None:
    drop = reports / "drop"
    assert main(["report", str(drop), "--baseline", str(reports / "base"), "--fail", "resolved_rate:significant"]) == 1
    out = capsys.readouterr().out
    assert f"wrote {drop / 'summary.json'} and {drop / 'report.html'}" in out and "  FAIL resolved_rate:" in out
    summary = json.loads((drop / "summary.json").read_text())
    assert summary["totals"]["resolved_instances"] == sum(r.resolved for r in load_records(reports / "base")) - 14
    stored = json.loads((drop / "compare.json").read_text())
    assert stored["gates"][0]["gate"] == "resolved_rate:significant" and stored["lost"] == 15
    page = (drop / "report.html").read_text()
    assert "id='ohbench-comparison'" in page and "gate: FAIL" in page
    # Rebuilt again without options: the comparison recorded in compare.json is kept.
    (drop / "report.html").unlink()
    assert main(["report", str(drop)]) == 1
    assert "gate: FAIL" in (drop / "report.html").read_text()
    # The patch links point into the run folder's own logs.
    assert "href='logs/synth__repo-1[gpt]/patch.diff'" in page
