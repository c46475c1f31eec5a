"""Build (or --check) the example datasets from the repos and the instance edits below.

Each instance is a real bug in `repos/<name>/` (the base commit), a gold fix and a test
change, written here as text replacements and turned into `git diff`s by real git. The base
commit is made exactly like the suite's Dockerfile makes it, so its sha matches the image.
PASS_TO_PASS is what pytest finds passing in the touched test files both before and after the
gold patch; the FAIL_TO_PASS written below must be exactly the tests the gold patch turns
green. Every row is then checked by check_examples.py.

    python3 suites/examples/swe/make_datasets.py          # rewrite the .jsonl files
    python3 suites/examples/swe/make_datasets.py --check  # validate, change nothing
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from check_examples import (
    HERE,
    MSWE_STATUS,
    Problem,
    apply,
    base_checkout,
    git,
    patched_files,
    run_tests,
)

# Edits are {file: [(old, new), ...]}, applied with str.replace (old must occur once).
INSTANCES: list[dict] = [
    {
        "instance_id": "ohbench__textkit-1",
        "repo": "textkit",
        "format": "swe-bench",
        "problem_statement": (
            "slugify leaves double dashes\n\n"
            "`slugify` keeps one separator per punctuation character, so text with a comma "
            "and a space gets two dashes:\n\n"
            "```python\n>>> from textkit import slugify\n>>> slugify('Hello, World!')\n"
            "'hello--world'\n>>> slugify('Q&A: part 2', sep='_')\n'q_a__part_2'\n```\n\n"
            "The docstring promises `'hello-world'`. With `max_length` the extra dashes also eat "
            "into the length, so fewer words fit than should."
        ),
        "gold": {"textkit/slug.py": [('re.sub(r"[^a-z0-9]", sep,', 're.sub(r"[^a-z0-9]+", sep,')]},
        "tests": {
            "tests/test_slug.py": [(
                'def test_max_length_cuts_at_a_word_boundary():\n',
                'def test_punctuation_runs_collapse():\n    assert slugify("Hello, World!") == "hello-world"\n'
                '    assert slugify("Q&A: part 2", sep="_") == "q_a_part_2"\n\n\n'
                'def test_max_length_after_punctuation():\n'
                '    assert slugify("Hello, World! Again", max_length=12) == "hello-world"\n\n\n'
                'def test_max_length_cuts_at_a_word_boundary():\n',
            )]
        },
        "FAIL_TO_PASS": [
            "tests/test_slug.py::test_punctuation_runs_collapse",
            "tests/test_slug.py::test_max_length_after_punctuation",
        ],
    },
    {
        "instance_id": "ohbench__textkit-2",
        "repo": "textkit",
        "format": "swe-bench",
        "problem_statement": (
            "truncate returns one character too many\n\n"
            "```python\n>>> from textkit import truncate\n>>> truncate('abcdefghij', 6)\n"
            "'abcd...'\n```\n\nThat is 7 characters; the docs say the result is at most `width` long. "
            "It breaks our table layout, which pads every cell to the width it asked for."
        ),
        "gold": {"textkit/wrap.py": [("width - len(ellipsis) + 1]", "width - len(ellipsis)]")]},
        "tests": {
            "tests/test_wrap.py": [(
                'def test_width_shorter_than_ellipsis_rejected():\n',
                'def test_cut_text_fits_the_width():\n    assert truncate("abcdefghij", 6) == "abc..."\n'
                '    assert truncate("abcdefghij", 5, ellipsis="~") == "abcd~"\n'
                '    assert truncate("abcdefghij", 3) == "..."\n\n\n'
                'def test_width_shorter_than_ellipsis_rejected():\n',
            )]
        },
        "FAIL_TO_PASS": ["tests/test_wrap.py::test_cut_text_fits_the_width"],
    },
    {
        "instance_id": "ohbench__textkit-3",
        "repo": "textkit",
        "format": "swe-bench",
        "problem_statement": (
            "snake_case splits acronyms into letters\n\n"
            "```python\n>>> from textkit import snake_case, kebab_case\n>>> snake_case('HTTPServerError')\n"
            "'h_t_t_p_server_error'\n>>> kebab_case('parseJSON')\n'parse-j-s-o-n'\n```\n\n"
            "Expected `'http_server_error'` and `'parse-json'`; `getHTTPResponse` should give "
            "`'get_http_response'`."
        ),
        "gold": {
            "textkit/case.py": [(
                '    words = re.sub(r"([A-Z])", r"_\\1", name)\n    return words.lower().lstrip("_")\n',
                '    # An acronym ends where a capitalised word starts: "HTTPServer" -> "HTTP_Server".\n'
                '    words = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\\1_\\2", name)\n'
                '    words = re.sub(r"([a-z0-9])([A-Z])", r"\\1_\\2", words)\n    return words.lower()\n',
            )]
        },
        "tests": {
            "tests/test_case.py": [(
                'def test_kebab_case():\n    assert kebab_case("backgroundColor") == "background-color"\n',
                'def test_acronyms_stay_whole():\n    assert snake_case("HTTPServerError") == "http_server_error"\n\n\n'
                'def test_acronym_inside_a_name():\n    assert snake_case("getHTTPResponse") == "get_http_response"\n'
                '    assert kebab_case("parseJSON") == "parse-json"\n\n\n'
                'def test_kebab_case():\n    assert kebab_case("backgroundColor") == "background-color"\n',
            )]
        },
        "FAIL_TO_PASS": [
            "tests/test_case.py::test_acronyms_stay_whole",
            "tests/test_case.py::test_acronym_inside_a_name",
        ],
    },
    {
        "instance_id": "ohbench__intervals-1",
        "repo": "intervals",
        "format": "swe-bench",
        "problem_statement": (
            "Touching intervals do not overlap, so merge keeps them apart\n\n"
            "Intervals are closed, so `[1, 2]` and `[2, 3]` share the point 2, yet:\n\n"
            "```python\n>>> from intervals import Interval, merge\n>>> Interval(1, 2).overlaps(Interval(2, 3))\n"
            "False\n>>> Interval(1, 2).intersection(Interval(2, 3)) is None\nTrue\n"
            ">>> merge([Interval(1, 2), Interval(2, 3)])\n"
            "[Interval(start=1, end=2), Interval(start=2, end=3)]\n```\n\n"
            "I expected `True`, `Interval(start=2, end=2)` and `[Interval(start=1, end=3)]`."
        ),
        "gold": {"intervals/core.py": [(
            "return self.start < other.end and other.start < self.end",
            "return self.start <= other.end and other.start <= self.end",
        )]},
        "tests": {
            "tests/test_interval.py": [(
                "def test_intersection():\n",
                "def test_touching_intervals_overlap():\n    assert Interval(1, 2).overlaps(Interval(2, 3))\n"
                "    assert Interval(2, 3).overlaps(Interval(1, 2))\n\n\n"
                "def test_touching_intervals_meet_in_a_point():\n"
                "    assert Interval(1, 2).intersection(Interval(2, 3)) == Interval(2, 2)\n\n\n"
                "def test_intersection():\n",
            )]
        },
        "FAIL_TO_PASS": [
            "tests/test_interval.py::test_touching_intervals_overlap",
            "tests/test_interval.py::test_touching_intervals_meet_in_a_point",
        ],
    },
    {
        "instance_id": "ohbench__intervals-2",
        "repo": "intervals",
        "format": "swe-bench",
        "number": 2,
        "issue_number": 1,
        "pr_title": "Fix merge() of an interval that lies inside the previous one",
        "title": "merge shrinks the union when one interval contains the next",
        "problem_statement": (
            "merge shrinks the union when one interval contains the next\n\n"
            "```python\n>>> from intervals import Interval, merge, total_length\n"
            ">>> merge([Interval(0, 10), Interval(2, 3)])\n[Interval(start=0, end=3)]\n"
            ">>> total_length([Interval(0, 10), Interval(2, 3)])\n3\n```\n\n"
            "The union of [0, 10] and [2, 3] is [0, 10], so I expected `[Interval(start=0, end=10)]` "
            "and a total length of 10."
        ),
        "gold": {"intervals/core.py": [(
            "merged[-1] = Interval(merged[-1].start, current.end)",
            "merged[-1] = Interval(merged[-1].start, max(merged[-1].end, current.end))",
        )]},
        "tests": {
            "tests/test_merge.py": [(
                "def test_span():\n",
                "def test_merge_contained_interval():\n"
                "    assert merge([Interval(0, 10), Interval(2, 3)]) == [Interval(0, 10)]\n"
                "    assert merge([Interval(0, 10), Interval(2, 3), Interval(5, 12)]) == [Interval(0, 12)]\n\n\n"
                "def test_total_length_of_nested_intervals():\n"
                "    assert total_length([Interval(0, 10), Interval(2, 3)]) == 10\n\n\n"
                "def test_span():\n",
            )]
        },
        "FAIL_TO_PASS": [
            "tests/test_merge.py::test_merge_contained_interval",
            "tests/test_merge.py::test_total_length_of_nested_intervals",
        ],
    },
]


def edit(checkout: Path, edits: dict[str, list[tuple[str, str]]]) -> None:
    for name, replacements in edits.items():
        path = checkout / name
        text = path.read_text()
        for old, new in replacements:
            if text.count(old) != 1:
                raise Problem(f"{name}: expected exactly one {old!r}")
            text = text.replace(old, new)
        path.write_text(text)


def diff_of(repo: str, edits: dict, scratch: Path) -> str:
    base_checkout(repo, scratch)
    edit(scratch, edits)
    return git(scratch, "diff")


def row(instance: dict, base: str, gold: str, tests: str, stages: dict[str, dict[str, str]], p2p: list[str]) -> dict:
    """The dataset row; `stages` holds pytest's statuses without patches, with tests, with both."""
    f2p = instance["FAIL_TO_PASS"]
    if instance["format"] == "swe-bench":
        return {
            "instance_id": instance["instance_id"],
            "repo": f"ohbench/{instance['repo']}",
            "base_commit": base,
            "patch": gold,
            "test_patch": tests,
            "problem_statement": instance["problem_statement"],
            "hints_text": "",
            "created_at": "2024-01-01T00:00:00Z",
            "version": "0.1",
            "FAIL_TO_PASS": json.dumps(f2p),
            "PASS_TO_PASS": json.dumps(p2p),
            "environment_setup_commit": base,
        }

    def statuses(test: str) -> dict[str, str]:
        return {stage: MSWE_STATUS.get(result.get(test, ""), "NONE") for stage, result in stages.items()}

    issue = {"number": instance["issue_number"], "title": instance["title"], "body": instance["problem_statement"]}
    return {
        "org": "ohbench",
        "repo": instance["repo"],
        "number": instance["number"],
        "instance_id": f"ohbench__{instance['repo']}-{instance['number']}",
        "state": "closed",
        "title": instance["pr_title"],
        "body": f"Fixes #{issue['number']}.",
        "base": {"label": "ohbench:main", "ref": "main", "sha": base},
        "resolved_issues": [issue],
        "fix_patch": gold,
        "test_patch": tests,
        "f2p_tests": {t: statuses(t) for t in f2p},
        "p2p_tests": {t: statuses(t) for t in p2p},
        "s2p_tests": {},
        "n2p_tests": {},
    }


def build(instance: dict, work: Path) -> dict:
    """The row of `instance`, its test lists taken from real pytest runs."""
    base = base_checkout(instance["repo"], work / "base")
    gold = diff_of(instance["repo"], instance["gold"], work / "gold")
    tests = diff_of(instance["repo"], instance["tests"], work / "tests")
    checkout = work / "run" / "testbed"
    base_checkout(instance["repo"], checkout)
    files = patched_files(tests)
    stages = {"run": run_tests(checkout, files)}
    apply(checkout, tests, "test_patch")
    stages["test"] = run_tests(checkout, files)
    apply(checkout, gold, "gold_patch")
    stages["fix"] = after = run_tests(checkout, files)
    before = stages["test"]
    fixed = [t for t, s in after.items() if s == "PASSED" and before.get(t) != "PASSED"]
    if sorted(fixed) != sorted(instance["FAIL_TO_PASS"]):
        raise Problem(f"the gold patch turns {fixed} green, not FAIL_TO_PASS {instance['FAIL_TO_PASS']}")
    broken = [t for t, s in before.items() if s == "PASSED" and after.get(t) != "PASSED"]
    if broken:
        raise Problem(f"the gold patch breaks {broken}")
    p2p = [t for t, s in after.items() if s == "PASSED" and before.get(t) == "PASSED"]
    return row(instance, base, gold, tests, stages, p2p)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="validate and compare, write nothing")
    args = parser.parse_args()
    # Multi-SWE-bench examples live in suites/examples/mswe, in that harness's image layout.
    files: dict[str, list[str]] = {"swe-bench.jsonl": []}
    for instance in INSTANCES:
        with tempfile.TemporaryDirectory(prefix="ohbench-make-") as tmp:
            try:
                data = build(instance, Path(tmp) / "build")
            except Problem as exc:
                print(f"FAIL {instance['instance_id']}: {exc}")
                return 1
        files[f"{instance['format']}.jsonl"].append(json.dumps(data))
        print(f"built {instance['instance_id']}")
    stale = [name for name, lines in files.items() if (HERE / name).read_text() != "\n".join(lines) + "\n"]
    if args.check:
        if stale:
            print(f"out of date: {', '.join(stale)} (run make_datasets.py)")
            return 1
    else:
        for name in stale:
            (HERE / name).write_text("\n".join(files[name]) + "\n")
            print(f"wrote {name}")
    # Validate the rows as written, the way check_examples.py does.
    from check_examples import main as check_main

    return check_main()


if __name__ == "__main__":
    sys.exit(main())
