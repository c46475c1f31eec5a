"""The structured-report parsers on real runner output, captured in containers.

The files in tests/data/runner_logs/ are what the runners printed for the demo projects
next to them (`bash tests/data/runner_logs/capture.sh` rewrites them); the Go and JUnit ones
are also captured live here, in the toolchain image the bundled examples use.
"""

from __future__ import annotations

import docker
import pytest
from conftest import REPO_ROOT

from pytest_ohbench.kinds.judge.logparsers import get_parser
from pytest_ohbench.kinds.judge.parsers.auto import detect
from pytest_ohbench.runtime.docker.runtime import DockerRuntime

LOGS = REPO_ROOT / "tests" / "data" / "runner_logs"
TOOLCHAIN = "ohbench/toolchains:trixie"
GO = {"TestPasses": "PASSED", "TestFails": "FAILED", "TestSkipped": "SKIPPED",
      "TestTable": "FAILED", "TestTable/ok": "PASSED", "TestTable/bad": "FAILED"}
JAVA = {"demo.DemoTest.passes()": "PASSED", "demo.DemoTest.fails()": "FAILED",
        "demo.DemoTest.errors()": "ERROR", "demo.DemoTest.skipped()": "SKIPPED"}
NODE_MOCHA = {"top level passes": "PASSED", "math adds": "PASSED", "math subtracts wrongly": "FAILED",
              "math divides later": "SKIPPED"}
CASES = [
    ("go-test.json", "gotest-json", GO),
    ("go-test-v.txt", "gotest", GO),
    ("junit-console.xml", "junit", JAVA),
    ("pytest-junit.xml", "junit", {"test_demo.test_passes": "PASSED", "test_demo.test_fails": "FAILED",
                                   "test_demo.test_skipped": "SKIPPED", "test_demo.test_known_bug": "XFAIL"}),
    ("cargo-test.txt", "cargo", {"tests::passes": "PASSED", "tests::fails": "FAILED", "tests::ignored": "SKIPPED"}),
    ("node-test-tap.txt", "tap", {"math > adds": "PASSED", "math > subtracts wrongly": "FAILED",
                                  "math > divides later": "SKIPPED", "math": "FAILED", "top level passes": "PASSED"}),
    ("jest.json", "jest", NODE_MOCHA),
    ("mocha.json", "mocha", NODE_MOCHA),
    ("mocha-tap.txt", "tap", NODE_MOCHA),
]


@pytest.mark.parametrize(("log", "parser", "expected"), CASES, ids=[c[0] for c in CASES])
def test_parser_reads_captured_output(log: str, parser: str, expected: dict[str, str]) -> None:
    text = (LOGS / log).read_text()
    assert get_parser(parser)(text) == expected
    assert detect(text) == parser  # the auto parser recognizes the runner
    assert get_parser("auto")(text) == expected


def test_a_cut_report_loses_its_tests_not_its_failures() -> None:
    text = (LOGS / "junit-console.xml").read_text()
    # The launcher prints one report per engine: a cut inside the first leaves no test.
    assert get_parser("junit")(text[: text.index("</testsuite>")]) == {}
    events = (LOGS / "go-test.json").read_text().splitlines()
    cut = "\n".join(line for line in events if '"TestPasses"' not in line or '"run"' in line)
    assert get_parser("gotest-json")(cut)["TestPasses"] == "FAILED"  # started, never reported


@pytest.fixture(scope="module")
def toolchain(docker_client: docker.DockerClient) -> str:
    try:
        docker_client.images.get(TOOLCHAIN)
    except docker.errors.ImageNotFound:
        pytest.fail(f"{TOOLCHAIN} is missing: run scripts/toolchain_image.sh")
    return TOOLCHAIN


@pytest.mark.docker
@pytest.mark.parametrize(
    ("project", "command", "parser", "expected"),
    [
        ("go", "go test -json -count=1 ./...", "gotest-json", GO),
        ("java", "J=/usr/share/java/junit-platform-console-standalone.jar; mkdir -p out r && javac -d out -cp $J "
         "src/demo/DemoTest.java && java -jar $J --class-path out --scan-class-path --disable-banner --details=none "
         "--reports-dir r >/dev/null; cat r/*.xml", "junit", JAVA),
    ],
    ids=["go", "java"],
)
def test_parser_reads_live_output(docker_client: docker.DockerClient, toolchain: str, project: str,
                                  command: str, parser: str, expected: dict[str, str]) -> None:
    runtime = DockerRuntime.start(docker_client, toolchain, run_id="parsers", instance_id=project, workdir="/work")
    try:
        runtime.write_tree("/work", LOGS / "projects" / project)
        result = runtime.execute(f"export GOTOOLCHAIN=local GOPROXY=off; {command}", timeout=300)
    finally:
        runtime.remove()
    assert get_parser(parser)(result.output) == expected
