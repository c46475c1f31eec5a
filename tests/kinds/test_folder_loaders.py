"""Prompt files, GitTaskBench tasks and Harbor task folders as Tasks; the bad input each can hold."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import REPO_ROOT

from pytest_ohbench.core.errors import DatasetError
from pytest_ohbench.kinds.gittaskbench import loader as gittaskbench
from pytest_ohbench.kinds.harbor import loader as harbor
from pytest_ohbench.kinds.prompts import loader as prompts
from pytest_ohbench.kinds.prompts.checker import CHECK_DIR, ScriptCheckSpec
from pytest_ohbench.plugin.collect_folders import folder_suite

EXAMPLES = REPO_ROOT / "suites" / "examples"
PROMPTS, GTB, HARBOR = EXAMPLES / "prompts", EXAMPLES / "gittaskbench", EXAMPLES / "harbor"


def prompt_task(path: Path):
    return prompts.load_prompt(path, folder_suite(path.parent, "prompts"))


def gtb_task(root: Path, taskid: str):
    return gittaskbench.load_task(root / "config" / taskid / "task_info.yaml", root, folder_suite(root, "gittaskbench"))


def test_a_bundled_prompt_becomes_a_task() -> None:
    task = prompt_task(PROMPTS / "csv_summary.md")
    assert (task.instance_id, task.kind, task.workdir) == ("csv_summary", "prompt", None)
    assert task.prompt.startswith("# Summarise sales by region") and "---" not in task.prompt
    assert task.image == "ohbench/base:trixie"
    assert [(i.source.name, i.target) for i in task.inputs] == [("sales.csv", "sales.csv")]
    spec = task.check
    assert isinstance(spec, ScriptCheckSpec) and spec.verdict == "exit_code"
    assert spec.expected_outputs == ["summary.csv"]
    assert [f.target for f in spec.files] == [f"{CHECK_DIR}/check_summary.py", f"{CHECK_DIR}/expected_summary.csv"]
    assert "{check_dir}/check_summary.py" in spec.command
    assert task.reference.files == PROMPTS / "solutions" / "csv_summary.sh"
    assert task.reference.command == 'bash "${OHBENCH_ROOT:-}/ohbench/solution/csv_summary.sh"'


def test_the_agent_view_holds_no_check_or_solution() -> None:
    for path in sorted(PROMPTS.glob("*.md")):
        if path.name == "README.md":
            continue
        task = prompt_task(path)
        seen = json.dumps(task.view().__dict__)
        names = [p.name for f in task.check.files for p in ([f.source] if f.source.is_file() else f.source.rglob("*"))]
        for secret in [*names, "solutions/", "expected"]:
            assert secret not in seen, (path.name, secret)


def test_a_prompt_without_front_matter_passes_on_the_agent_status(tmp_path: Path) -> None:
    (tmp_path / "hello.md").write_text("Say hello.\n")
    task = prompt_task(tmp_path / "hello.md")
    assert task.prompt == "Say hello.\n" and task.inputs == []
    assert task.check.empty and task.reference.command == ""
    assert folder_suite(tmp_path, "prompts").container.workdir == "/workspace"


def test_front_matter_sets_limits_image_workdir_and_targets(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.txt").write_text("a")
    (tmp_path / "t.md").write_text(
        "---\ntimeout: 90\nagent_timeout: 30\nimage: my/image:1\nworkdir: /work\n"
        "files: [{source: data, target: raw}, data/a.txt]\ncheck: \"awk '{print $1}' out.txt | grep -q x\"\n---\nDo it.\n"
    )
    task = prompt_task(tmp_path / "t.md")
    assert (task.timeout, task.agent_timeout, task.image, task.workdir) == (90.0, 30.0, "my/image:1", "/work")
    assert [(i.source.name, i.target) for i in task.inputs] == [("data", "raw"), ("a.txt", "a.txt")]
    assert task.check.command == "awk '{print $1}' out.txt | grep -q x" and task.check.files == []


BAD_PROMPTS = [
    (b"", "empty prompt"),
    (b"---\ntimeout: 5\n---\n\n  \n", "empty prompt"),
    ("Caf\u00e9 au lait\n".encode("latin-1"), "not UTF-8 text (byte 0xe9 at offset 3)"),
    (b"---\nfiles: [a\ncheck: x\n---\nDo it.\n", ":3: front matter is not valid YAML"),
    (b"---\n- a\n- b\n---\nDo it.\n", ":2: front matter must be a mapping"),
    (b"---\ntimeout: soon\n---\nDo it.\n", "front matter 'timeout': expected a number of seconds > 0, got 'soon'"),
    (b"---\nchek: ls\n---\nDo it.\n", "unknown front matter key 'chek'"),
    (b"---\nfiles: [missing.csv]\n---\nDo it.\n", "front matter 'files': missing.csv does not exist"),
    (b"---\ncheck: {command: ls, file: [x]}\n---\nDo it.\n", "unknown front matter key 'check.file' (did you mean 'check.files'?)"),
    (b"---\ntimout: 5\nzzz: 1\ncheck: {comand: ls}\n---\nDo it.\n", "unknown front matter keys 'timout' (did you mean "
     "'timeout'?), 'zzz' (known: agent_timeout, check, expected, files, image, solution, timeout, workdir), "
     "'check.comand' (did you mean 'check.command'?)"),
    (b"---\ntimeout: 5\nDo it.\n", ":1: front matter opened with --- is never closed"),
]


@pytest.mark.parametrize("content, message", BAD_PROMPTS)
def test_bad_prompt_files_name_the_file(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.md"
    path.write_bytes(content)
    with pytest.raises(DatasetError) as info:
        prompt_task(path)
    text = str(info.value)
    assert text.startswith(str(path)) and message in text and "\n" not in text


def test_gittaskbench_task_with_groundtruth() -> None:
    task = gtb_task(GTB, "Statkit_01")
    assert (task.instance_id, task.kind, task.workdir) == ("Statkit_01", "gittaskbench", "/GitTaskBench")
    assert [i.target for i in task.inputs] == ["code_base/Statkit", "queries/Statkit_01/input"]
    spec = task.check
    assert spec.verdict == "gittaskbench" and spec.output_dir == "output/Statkit_01/" and not spec.multi_output
    assert spec.command == (
        "python3 test_scripts/Statkit_01/test_script.py --output {output} "
        "--result test_results/Statkit_01/results.jsonl --groundtruth groundtruth/Statkit_01/gt.csv"
    )
    # Check files arrive afterwards: the test script folder, the ground truth, the inputs put back.
    assert [f.target for f in spec.files] == [
        "test_scripts/Statkit_01", "groundtruth/Statkit_01/gt.csv", "queries/Statkit_01/input"
    ]
    assert spec.clear == ["test_results/Statkit_01/results.jsonl"]
    assert "/GitTaskBench/code_base/Statkit" in task.prompt
    assert "/GitTaskBench/queries/Statkit_01/input/Statkit_01_input.txt: the text to analyse" in task.prompt
    assert "/GitTaskBench/output/Statkit_01" in task.prompt and "Read the repository's README.md" in task.prompt
    assert "groundtruth" not in task.prompt and "test_script" not in task.prompt
    assert task.reference.files == GTB / "solutions" / "Statkit_01"


def test_gittaskbench_parameters_replace_the_groundtruth() -> None:
    spec = gtb_task(GTB, "Statkit_02").check
    assert "--groundtruth" not in spec.command
    assert spec.command.endswith("--input queries/Statkit_02/input/Statkit_02_input.csv --column latency_ms")


def copy_gtb(tmp_path: Path) -> Path:
    root = tmp_path / "gtb"
    shutil.copytree(GTB, root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda r: (r / "test_scripts/Statkit_01/test_script.py").unlink(),
         "test_script test_scripts/Statkit_01/test_script.py does not exist"),
        (lambda r: (r / "groundtruth/Statkit_01/gt.csv").unlink(), "groundtruth groundtruth/Statkit_01/gt.csv does not exist"),
        (lambda r: (r / "config/Statkit_01/task_info.yaml").write_text("taskid: Statkit_01\nresult: [1]\n"),
         "'result' must be a str"),
        (lambda r: (r / "config/Statkit_01/task_info.yaml").write_text("taskid: Statkit_01\n"), "missing required field 'result'"),
        (lambda r: (r / "queries/Statkit_01/query.json").write_text("{"), "query.json: invalid JSON"),
        (lambda r: shutil.rmtree(r / "code_base/Statkit"), "repository Statkit not found"),
    ],
)
def test_bad_gittaskbench_tasks_name_the_file(tmp_path: Path, damage, message: str) -> None:
    root = copy_gtb(tmp_path)
    damage(root)
    with pytest.raises(DatasetError) as info:
        gtb_task(root, "Statkit_01")
    assert message in str(info.value) and str(root) in str(info.value)


def test_the_gittaskbench_layout_is_recognised() -> None:
    assert gittaskbench.is_root(GTB) and not gittaskbench.is_root(PROMPTS)
    assert [p.parent.name for p in gittaskbench.task_infos(GTB)] == ["Statkit_01", "Statkit_02"]
    assert gittaskbench.root_relative("/GitTaskBench/code_base/Trafilatura") == "code_base/Trafilatura"
    assert gittaskbench.root_relative("/data/bench/queries/X/input/a.txt") == "queries/X/input/a.txt"


def test_a_harbor_task_and_its_settings() -> None:
    task, suite = harbor.load_task(HARBOR / "fix-median", folder_suite(HARBOR, "harbor"))
    assert (task.instance_id, task.kind, task.workdir, task.agent_timeout) == ("fix-median", "harbor", "/app", 300.0)
    assert task.prompt.startswith("`/app/stats.py` has a `median(values)`")
    spec = task.check
    assert (spec.verdict, spec.command, spec.timeout, spec.clear) == ("harbor", "bash /tests/test.sh", 120.0, ["/logs/verifier"])
    assert [(f.source.name, f.target) for f in spec.files] == [("tests", "/tests")]
    assert (suite.name, suite.root, suite.container.memory, suite.container.cpus) == ("examples-harbor", HARBOR / "fix-median", "1024m", 1.0)
    assert (suite.image.dockerfile, suite.image.context, suite.image.base) == ("environment/Dockerfile", "environment", "ohbench/base:trixie")
    assert suite.container.network == "none"
    assert "bash /solution/solve.sh" in task.reference.command and task.reference.files == HARBOR / "fix-median" / "solution"


def copy_harbor_task(tmp_path: Path) -> Path:
    target = tmp_path / "fix-median"
    shutil.copytree(HARBOR / "fix-median", target)
    return target


@pytest.mark.parametrize(
    "allow, suite_network, network",
    [("true", "none", "host"), ("false", "host", "none"), (None, "host", "host"), (None, "none", "none")],
)
def test_allow_internet_sets_the_task_s_network_else_the_suite_s(
    tmp_path: Path, allow: str | None, suite_network: str, network: str
) -> None:
    """true: the host's network (agents are not sealed); false: none, whatever the suite says."""
    task_dir = copy_harbor_task(tmp_path)
    toml = (task_dir / "task.toml").read_text().replace("allow_internet = false\n", "")
    (task_dir / "task.toml").write_text(toml + (f"allow_internet = {allow}\n" if allow else ""))
    suite = folder_suite(tmp_path, "harbor")
    suite.container.network = suite_network
    assert harbor.load_task(task_dir, suite)[1].container.network == network


@pytest.mark.parametrize(
    "edit, message",
    [
        ("[agent]\ntimeout_sec = \"ten\"\n", "agent.timeout_sec must be a number, got 'ten'"),
        ("[environment]\nmemory_mb = 1.5\n", "environment.memory_mb must be a whole number, got 1.5"),
        ("[environment]\nallow_internet = \"no\"\n", "environment.allow_internet must be true or false"),
        ("[verifier]\ntimeout_sec = -1\n", "verifier.timeout_sec must be > 0"),
        ("agent = 3\n", "[agent] must be a table"),
        ("[agent\n", "invalid TOML"),
    ],
)
def test_bad_task_toml_names_the_file(tmp_path: Path, edit: str, message: str) -> None:
    task_dir = copy_harbor_task(tmp_path)
    (task_dir / "task.toml").write_text(edit)
    with pytest.raises(DatasetError) as info:
        harbor.load_task(task_dir, folder_suite(tmp_path, "harbor"))
    assert str(info.value).startswith(str(task_dir / "task.toml")) and message in str(info.value)


def test_a_harbor_task_without_tests_is_bad_input(tmp_path: Path) -> None:
    task_dir = copy_harbor_task(tmp_path)
    (task_dir / "tests" / "test.sh").unlink()
    with pytest.raises(DatasetError, match=r"tests/test\.sh not found"):
        harbor.load_task(task_dir, folder_suite(tmp_path, "harbor"))


def test_dockerfile_facts(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM --platform=linux/amd64 ubuntu:24.04 AS base\nWORKDIR /srv\nRUN true\nWORKDIR /srv/app\n")
    assert harbor.dockerfile_facts(dockerfile) == ("ubuntu:24.04", "/srv/app")
