"""The docs hold: every page README points to exists, every relative link in them resolves,
the options table is the one declared in code, and each page's commands marked
`<!-- checked -->` run as written (in a scratch folder beside the bundled suites).

A command's trailing comment may say the exit code it ends with (`# exit 1`); otherwise it
must exit 0. `pytest` and `python` run with this test's interpreter.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT

from pytest_ohbench.plugin.options import markdown_table

DOCS = REPO_ROOT / "docs"
PAGES = [REPO_ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
CHECKED = re.compile(r"<!-- checked -->\n```bash\n(.*?)```", re.S)
EXIT = re.compile(r"#.*\bexit (\d+)")


def commands(page: Path) -> list[tuple[str, int]]:
    """(command, expected exit code) of every checked block of `page`, in order."""
    found = []
    for block in CHECKED.findall(page.read_text()):
        for line in block.splitlines():
            if not line.strip():
                continue
            expected = EXIT.search(line)
            found.append((line, int(expected.group(1)) if expected else 0))
    return found


def test_readme_is_short_and_every_page_it_names_exists() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    assert len(readme.splitlines()) < 200
    named = set(LINK.findall(readme))
    assert {f"docs/{p.name}" for p in DOCS.glob("*.md")} <= named, "every docs page is linked from the README"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_resolve(page: Path) -> None:
    missing = [link for link in LINK.findall(page.read_text()) if "://" not in link and not (page.parent / link).exists()]
    assert not missing, missing


def test_the_options_table_is_the_declared_one() -> None:
    text = (DOCS / "options.md").read_text()
    table = text.split("<!-- options table: made by python -m pytest_ohbench.plugin.options -->\n", 1)[1]
    assert table.split("<!-- end of options table -->", 1)[0] == markdown_table()


@pytest.mark.docker
@pytest.mark.parametrize("page", [p for p in PAGES if commands(p)], ids=lambda p: p.name)
def test_checked_commands_run(page: Path, tmp_path: Path, base_image: str) -> None:
    for name in ("suites", "benchmarks"):
        (tmp_path / name).symlink_to(REPO_ROOT / name)
    shutil.copy2(REPO_ROOT / "config.toml", tmp_path / "config.toml")
    bin_dir = tmp_path / "bin"  # `pytest` and `python` as this test's interpreter runs them
    bin_dir.mkdir()
    for name, run in (("python", ""), ("pytest", " -m pytest -p no:cacheprovider")):
        (bin_dir / name).write_text(f'#!/bin/sh\nexec "{sys.executable}"{run} "$@"\n')
        (bin_dir / name).chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "PYTEST_ADDOPTS": ""}
    for command, expected in commands(page):
        done = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
        assert done.returncode == expected, f"{page.name}: `{command}` exited {done.returncode}\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
