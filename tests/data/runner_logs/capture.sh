#!/usr/bin/env bash
# Capture real output of each test runner the parsers read, in containers of the toolchain
# images, into this folder (the parser tests read these files). Each demo project has a test
# that passes, one that fails and one that is skipped.
#
#   bash scripts/toolchain_image.sh --capture && bash tests/data/runner_logs/capture.sh
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TOOLS=ohbench/toolchains:trixie
CAPTURE=ohbench/capture:trixie

# run IMAGE PROJECT OUTPUT COMMAND: run COMMAND in a copy of PROJECT, stdout to OUTPUT.
run() {
  local image="$1" project="$2" output="$3" command="$4"
  docker run --rm --network none -v "$HERE/projects/$project:/src:ro" -e GOTOOLCHAIN=local -e GOPROXY=off \
    "$image" bash -c "cp -r /src /work && cd /work && $command" >"$HERE/$output" 2>/dev/null
  echo "capture: $output (exit $?)"
}

run "$TOOLS" go go-test.json "go test -json -count=1 ./..."
run "$TOOLS" go go-test-v.txt "go test -v -count=1 ./..."
run "$TOOLS" java junit-console.xml "J=/usr/share/java/junit-platform-console-standalone.jar; mkdir -p out r \
  && javac -d out -cp \$J src/demo/DemoTest.java && java -jar \$J --class-path out --scan-class-path \
  --disable-banner --details=none --reports-dir r >/dev/null; cat r/*.xml"
run "$TOOLS" py pytest-junit.xml "python3 -m pytest -q -p no:cacheprovider --junitxml=r.xml >/dev/null; cat r.xml"
# One run, both of its records: the -rA log the official SWE-bench parser reads, then (after
# the marker line) the JUnit report the judge reads (tests/test_official_parity.py).
run "$TOOLS" py pytest-rA-junit.txt "python3 -m pytest -rA -p no:cacheprovider --junitxml=r.xml -o junit_family=xunit1; \
  printf '\n@@ JUNIT @@\n'; cat r.xml"
run "$CAPTURE" rust cargo-test.txt "cargo test --offline 2>&1"
run "$CAPTURE" node node-test-tap.txt "DEMO_RUNNER=node node --test --test-reporter=tap"
run "$CAPTURE" node mocha.json "mocha --reporter json demo.test.js"
run "$CAPTURE" node mocha-tap.txt "mocha --reporter tap demo.test.js"
run "$CAPTURE" node jest.json "jest --ci --json demo.test.js"
