"""Which folders are prompt, GitTaskBench and Harbor suites, what is collected from them, and bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import REPO_ROOT

EXAMPLES = REPO_ROOT / "suites" / "examples"
# A test file that must never be collected: it fails if it is.
TRAP = "def test_trap():\n    raise AssertionError('a task folder file was collected as a test')\n"


def prompt_folder(root: Path, name: str = "prompts") -> Path:
    folder = root / name
    (folder / "inputs").mkdir(parents=True)
    (folder / "alpha.md").write_text("Write alpha.txt.\n")
    (folder / "beta.md").write_text("---\ntimeout: 60\n---\nWrite beta.txt.\n")
    (folder / "README.md").write_text("# My prompts\n")
    (folder / "notes.txt").write_text("not a prompt\n")
    (folder / "inputs" / "test_inputs.py").write_text(TRAP)
    (folder / "inputs" / "guide.md").write_text("not a prompt either (sub-folder)\n")
    return folder


def collected(result: pytest.RunResult) -> list[str]:
    return sorted(line for line in result.stdout.lines if "::" in line and not line.startswith(" "))


def test_a_bare_folder_named_on_the_command_line_is_a_prompt_suite(pytester: pytest.Pytester) -> None:
    prompt_folder(pytester.path)
    result = pytester.runpytest_inprocess("prompts", "--collect-only", "-q")
    assert collected(result) == ["prompts/alpha.md::alpha", "prompts/beta.md::beta"]
    assert result.ret == 0


def test_a_prompt_file_named_on_the_command_line(pytester: pytest.Pytester) -> None:
    prompt_folder(pytester.path)
    result = pytester.runpytest_inprocess("prompts/beta.md", "--collect-only", "-q")
    assert collected(result) == ["prompts/beta.md::beta"]


def test_markdown_of_ordinary_projects_is_never_collected(pytester: pytest.Pytester) -> None:
    prompt_folder(pytester.path)
    project = pytester.mkdir("project")
    (project / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    (project / "CHANGELOG.md").write_text("# 1.0\n")
    (pytester.path / "CONTRIBUTING.md").write_text("Be nice.\n")
    (pytester.path / ".git").mkdir()  # the current folder is a repository's root
    # Not named: neither the prompts below the current folder nor any project's .md files
    # (the folder is then an ordinary one: pytest collects its Python tests as usual).
    for args in ([], ["project"], ["."]):  # named: a project (pyproject.toml), or no prompts of its own
        items = collected(pytester.runpytest_inprocess(*args, "--collect-only", "-q"))
        assert [item for item in items if ".md::" in item] == [], args


def test_suite_yaml_kind_prompts_anywhere_below(pytester: pytest.Pytester) -> None:
    folder = prompt_folder(pytester.path / "deep")
    (folder / "suite.yaml").write_text("kind: prompts\nname: mine\ndatasets: ['a*.md', 'README.md']\n")
    result = pytester.runpytest_inprocess("--collect-only", "-q", "deep")
    assert collected(result) == ["deep/prompts/README.md::README", "deep/prompts/alpha.md::alpha"]


def test_gittaskbench_layout_collects_tasks_only(pytester: pytest.Pytester) -> None:
    root = pytester.path / "GitTaskBench"
    shutil.copytree(EXAMPLES / "gittaskbench", root, ignore=shutil.ignore_patterns("__pycache__", "suite.yaml"))
    (root / "code_base" / "Statkit" / "tests" / "test_trap.py").write_text(TRAP)
    (root / "code_base" / "Statkit" / "conftest.py").write_text("raise RuntimeError('a code base conftest was imported')\n")
    result = pytester.runpytest_inprocess("GitTaskBench", "--collect-only", "-q")
    assert collected(result) == [
        "GitTaskBench/config/Statkit_01/task_info.yaml::Statkit_01",
        "GitTaskBench/config/Statkit_02/task_info.yaml::Statkit_02",
    ]
    assert result.ret == 0


def test_harbor_task_folders_collect_their_task_toml_only(pytester: pytest.Pytester) -> None:
    shutil.copytree(EXAMPLES / "harbor", pytester.path / "tasks", ignore=shutil.ignore_patterns("suite.yaml"))
    (pytester.path / "tasks" / "fix-median" / "tests" / "test_trap.py").write_text(TRAP)
    result = pytester.runpytest_inprocess("tasks", "--collect-only", "-q")
    assert collected(result) == ["tasks/access-log-report/task.toml::access-log-report", "tasks/fix-median/task.toml::fix-median"]


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_bad_input_is_one_line_naming_the_file_and_the_rest_runs(pytester: pytest.Pytester, workers: list[str]) -> None:
    prompts = pytester.mkdir("prompts")
    (prompts / "good.md").write_text("Say hello.\n")  # no check: passes when the agent finishes
    (prompts / "empty.md").write_text("")
    (prompts / "latin1.md").write_bytes("R\u00e9sum\u00e9 the notes.\n".encode("latin-1"))
    (prompts / "frontmatter.md").write_text("---\ncheck: [unclosed\n---\nDo it.\n")
    root = pytester.path / "gtb"
    shutil.copytree(EXAMPLES / "gittaskbench", root, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "test_scripts" / "Statkit_01" / "test_script.py").unlink()
    tasks = pytester.path / "tasks"
    shutil.copytree(EXAMPLES / "harbor", tasks)
    (tasks / "fix-median" / "task.toml").write_text("[agent]\ntimeout_sec = 'ten'\n")
    (tasks / "access-log-report" / "tests" / "test.sh").unlink()
    result = pytester.runpytest_subprocess("prompts", "gtb", "tasks", "--agent", "noop", "-k", "good", *workers)
    # Each file named as it opens from the folder pytest ran in (here the rootdir).
    result.stdout.fnmatch_lines_random([
        "prompts/empty.md: empty prompt (no text after the front matter)",
        "prompts/latin1.md: not UTF-8 text (byte 0xe9 at offset 1)",
        "prompts/frontmatter.md:3: front matter is not valid YAML: *",
        "gtb/config/Statkit_01/task_info.yaml: test_script test_scripts/Statkit_01/test_script.py does not exist",
        "tasks/fix-median/task.toml: agent.timeout_sec must be a number, got 'ten'",
        "tasks/access-log-report/task.toml: tests/test.sh not found in tasks/access-log-report",
    ])
    result.stdout.fnmatch_lines(["*1 passed*6 errors*"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    records = [json.loads(line) for line in (pytester.path / "reports" / "latest" / "results.jsonl").read_text().splitlines()]
    assert [(r["instance_id"], r["outcome"], r["kind"]) for r in records] == [("good", "resolved", "prompt")]
    [line] = (pytester.path / "reports" / "latest" / "batch_results.jsonl").read_text().splitlines()
    assert json.loads(line)["task_name"] == "good.md" and json.loads(line)["status"] == "success"


def harbor_task_without_toml(folder: Path, marker: Path) -> None:
    """A Terminal-Bench-shaped task folder with no task.toml: hidden tests that write `marker` if run."""
    (folder / "tests").mkdir(parents=True)
    (folder / "environment").mkdir()
    (folder / "solution").mkdir()
    (folder / "instruction.md").write_text("Fix the median.\n")
    (folder / "environment" / "Dockerfile").write_text("FROM ohbench/base:trixie\n")
    (folder / "solution" / "solve.sh").write_text("true\n")
    (folder / "tests" / "test.sh").write_text("pytest /tests/test_outputs.py\n")
    hidden = f"def test_hidden():\n    open({str(marker)!r}, 'w').write('ran on the host')\n"
    (folder / "tests" / "test_outputs.py").write_text(hidden)
    (folder / "tests" / "conftest.py").write_text(hidden.replace("def test_hidden", "def imported"))


@pytest.mark.parametrize("where", ["in-suite", "named", "from-inside"])
def test_a_harbor_task_folder_without_task_toml_is_one_error_and_nothing_of_it_runs(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    tasks = pytester.path / "tasks"
    shutil.copytree(EXAMPLES / "harbor", tasks)  # suite.yaml kind: harbor, two good tasks
    marker = pytester.path / "RAN_ON_HOST"
    broken = tasks / "no-toml"
    harbor_task_without_toml(broken, marker)
    if where == "in-suite":
        result = pytester.runpytest_subprocess("tasks", "--agent", "noop")
    elif where == "named":
        result = pytester.runpytest_subprocess("tasks/no-toml", "--agent", "noop")
    else:  # the task folder is the rootdir: nothing above it is seen
        monkeypatch.chdir(broken)
        result = pytester.runpytest_subprocess("--agent", "noop")
        monkeypatch.chdir(pytester.path)
    assert not marker.exists(), "a test file of the task folder ran on the host"
    result.stdout.fnmatch_lines(["*no-toml: a Harbor task folder without task.toml*not collected*"])
    items = collected(pytester.runpytest_inprocess("tasks", "--collect-only", "-q"))
    assert items == ["tasks/access-log-report/task.toml::access-log-report", "tasks/fix-median/task.toml::fix-median"]
    if where == "in-suite":  # the other tasks still ran (noop: judged, unresolved), the run fails
        result.stdout.fnmatch_lines(["*2 failed*1 error*"])
    assert result.ret != pytest.ExitCode.OK
