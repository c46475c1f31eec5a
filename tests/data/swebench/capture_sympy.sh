#!/usr/bin/env bash
# Capture real sympy `bin/test` logs as the official SWE-bench eval script prints them (its
# test command for sympy, between its start/end markers, under `set -x`), in a container of
# the base image with no network (`python` is python3 there, as in the official conda env). Two runs of one test file: sympy as released (gold) and
# with one line broken so a test fails (an adversarial patch).
#
#   pip download --no-deps --no-binary :all: sympy==1.12 && pip download --no-deps mpmath==1.3.0
#   tar xzf sympy-1.12.tar.gz    # then add bin/test and bin/get_sympy.py from sympy's repository
#   bash tests/data/swebench/capture_sympy.sh /path/to/sympy-1.12 /path/to/mpmath-1.3.0-py3-none-any.whl
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SYMPY="$(cd "$1" && pwd)"
MPMATH="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"
TESTS="sympy/functions/combinatorial/tests/test_comb_factorials.py"
COMMAND="PYTHONWARNINGS='ignore::UserWarning,ignore::SyntaxWarning' bin/test -C --verbose $TESTS"
[ -x "$SYMPY/bin/test" ] || { echo "capture: $SYMPY/bin/test is missing" >&2; exit 1; }

# capture OUTPUT BREAK: run the test command in a fresh copy; BREAK is a shell step run first.
capture() {
  docker run --rm --network none -v "$SYMPY:/src:ro" -v "$MPMATH:/tmp/mpmath.whl:ro" ohbench/base:trixie bash -c "
    ln -s /usr/bin/python3 /usr/local/bin/python && cp -r /src /testbed && python3 -m zipfile -e /tmp/mpmath.whl /opt/mpmath && cd /testbed && $2
    export PYTHONPATH=/opt/mpmath
    set -uxo pipefail
    : '>>>>> Start Test Output'
    $COMMAND
    : '>>>>> End Test Output'" >"$HERE/$1" 2>&1 || true
  echo "capture: $1"
}

capture sympy__test_comb_factorials.gold.log true
# factorial2 of an even number off by one, so test_factorial2 fails (sympy's runner prints the
# last test of a file with a trailing [OK]/[FAIL], which the official parser does not read:
# the broken test is one in the middle).
capture sympy__test_comb_factorials.broken.log \
  "sed -i '426s/return 2\\*\\*k \\* factorial(k)\$/return 2**k * factorial(k) + 1/' sympy/functions/combinatorial/factorials.py"
