"""The agent's own Python: one self-contained, read-only tree per machine and agent version.

A tree holds CPython 3.13 (from the trixie base image), its standard library, the agent's
packages (the wheelhouse, installed with uv for CPython 3.13 on manylinux x86_64, offline)
and every shared library its ELF files need, glibc's loader included. It is built once,
under a file lock, in `<cache>/trees/<name>-<hash>/`, and bind-mounted read-only at
`/opt/ohbench-agent` in each task container. `bin/python` starts the interpreter through the
tree's own `ld-linux` with `--library-path`, so it runs on any x86_64 image (an older glibc,
another Python, no Python at all) and nothing of it leaks into the commands the agent runs:
no LD_LIBRARY_PATH, no PYTHON* variables, nothing on PATH.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock

from pytest_ohbench.agents.openhands.install import uv_binary
from pytest_ohbench.core.errors import last_line
from pytest_ohbench.core.machine import cache_dir
from pytest_ohbench.runtime.provider import BuildFailed, Mount, RuntimeProvider

MOUNT = "/opt/ohbench-agent"  # where the tree is mounted in every task container
PYTHON = f"{MOUNT}/bin/python"  # the tree's interpreter (a wrapper that uses the tree's loader)
BUILD_IMAGE = "ohbench/base:trixie"  # Debian's python3.13 comes from here
UV_PLATFORM = "x86_64-manylinux_2_40"  # the tree's own glibc is 2.41: any manylinux wheel up to that runs
COMPLETE = "ohbench-tree.json"

# Runs in a container of BUILD_IMAGE with the tree mounted read-write at MOUNT (packages already
# installed below lib/python3.13/dist-packages, which Debian's site.py reads for prefix MOUNT).
RUNTIME_SCRIPT = r"""
set -euo pipefail
T=/opt/ohbench-agent
PY=python3.13
mkdir -p "$T/bin" "$T/lib/sys"
cp /usr/bin/$PY "$T/bin/$PY"
cp -a /usr/lib/$PY/. "$T/lib/$PY/"
# Parts of the standard library a headless agent never imports.
rm -rf "$T/lib/$PY/test" "$T/lib/$PY/idlelib" "$T/lib/$PY/tkinter" "$T/lib/$PY/turtledemo" "$T/lib/$PY/ensurepip" \
       "$T/lib/$PY/__phello__" "$T/lib/$PY"/lib-dynload/_tkinter*.so
# Every shared library an ELF file of the tree needs (outside the tree), and the ones glibc
# opens at run time: libgcc_s (thread exit) and libstdc++ (manylinux wheels may link it).
{
  find "$T" -type f \( -name '*.so' -o -name '*.so.*' -o -name "$PY" \) -print0 | xargs -0 -r ldd 2>/dev/null \
    | awk '$2 == "=>" && $3 ~ /^\// {print $3}'
  ls /usr/lib/x86_64-linux-gnu/libgcc_s.so.1 /usr/lib/x86_64-linux-gnu/libstdc++.so.6
} | sort -u | while read -r lib; do
  case "$lib" in "$T"/*) continue ;; esac
  cp -L "$lib" "$T/lib/sys/$(basename "$lib")"
done
cp -L /lib64/ld-linux-x86-64.so.2 "$T/lib/ld-linux-x86-64.so.2"
cat > "$T/bin/python" <<'WRAPPER'
#!/bin/sh
# The agent's Python, through the tree's own loader and libraries (the image's libc and
# Python are never used); -E -s: the image's PYTHONPATH/PYTHONHOME and user site are ignored
# here, but stay in the environment of the commands the agent runs.
exec /opt/ohbench-agent/lib/ld-linux-x86-64.so.2 --library-path /opt/ohbench-agent/lib/sys \
  --argv0 /opt/ohbench-agent/bin/python /opt/ohbench-agent/bin/python3.13 -E -s "$@"
WRAPPER
chmod 755 "$T/bin/python"
# The tree is mounted read-only: without compiled bytecode every start would compile it all.
"$T/bin/python" -m compileall -q -j 0 "$T/lib" >/dev/null 2>&1 || true
"$T/bin/python" -c "$OHBENCH_TREE_CHECK"
"""


class TreeError(RuntimeError):
    """The agent tree could not be built; the message says why (one line)."""


@dataclasses.dataclass(frozen=True)
class TreeSpec:
    """What goes into a tree: a name, a wheelhouse and the uv installs from it."""

    name: str  # e.g. "openhands-0.48.0": the folder's prefix
    wheelhouse: Path
    # Each entry: arguments of one `uv pip install` (after the common ones), run in order.
    installs: tuple[tuple[str, ...], ...]
    check: str  # Python code the built tree must run (an import of the agent's entry point)
    # Files whose bytes (not only names) decide the tree: wheels built locally, e.g. from a fork.
    hashed_files: tuple[Path, ...] = ()
    # A folder put on the tree's sys.path (a .pth file): where a source's own code is mounted.
    extra_path: str = ""

    def key(self, build_image_id: str) -> str:
        """A hash of everything the tree is made from."""
        digest = hashlib.sha256()
        digest.update(RUNTIME_SCRIPT.encode())
        digest.update(repr((self.name, self.installs, self.check, UV_PLATFORM, build_image_id)).encode())
        for path in sorted(self.wheelhouse.iterdir()):
            if path.is_file():
                digest.update(f"{path.name}:{path.stat().st_size}\n".encode())
        for path in self.hashed_files:
            digest.update(path.read_bytes())
        if self.extra_path:  # only when set: the trees already built keep their names
            digest.update(f"extra_path:{self.extra_path}".encode())
        return digest.hexdigest()[:12]


def trees_dir() -> Path:
    """Where trees are kept: beside the wheelhouses."""
    return cache_dir() / "trees"


def tree_info(tree: Path) -> dict:
    """The built tree's record (name, size, build time), or {} when it is not complete."""
    try:
        return json.loads((tree / COMPLETE).read_text())
    except (OSError, ValueError):
        return {}


def _install(spec: TreeSpec, site: Path) -> None:
    for arguments in spec.installs:
        command = [uv_binary(), "pip", "install", "-q", "--target", str(site), "--python-version", "3.13",
                   "--python-platform", UV_PLATFORM, "--no-index", "--find-links", str(spec.wheelhouse),
                   "--no-build", "--link-mode", "copy", *arguments]
        result = subprocess.run(command, capture_output=True, text=True, cwd=spec.wheelhouse,
                                env={**os.environ, "UV_NO_CONFIG": "1"})
        if result.returncode != 0:
            raise TreeError(f"installing {spec.name} from {spec.wheelhouse} failed: {last_line(result.stderr)}")


def _fill(runtime: RuntimeProvider, spec: TreeSpec, partial: Path) -> None:
    site = partial / "lib" / "python3.13" / "dist-packages"
    site.mkdir(parents=True)
    _install(spec, site)
    shutil.rmtree(site / "bin", ignore_errors=True)  # console scripts with a host shebang: unused
    if spec.extra_path:  # site.py skips a .pth line whose folder does not exist
        (site / "ohbench-source.pth").write_text(spec.extra_path + "\n")
    try:
        runtime.run_build(BUILD_IMAGE, ["bash", "-c", RUNTIME_SCRIPT], [Mount(partial, MOUNT, read_only=False)],
                          {"OHBENCH_TREE_CHECK": spec.check})
    except BuildFailed as exc:
        raise TreeError(f"building the {spec.name} tree failed: {exc}") from None


def build_once(runtime: RuntimeProvider, name: str, key: Callable[[str], str], fill: Callable[[Path], None]) -> Path:
    """The tree `<name>-<key>` in the cache, made once per machine by `fill(folder)`.

    `key` gets the build image's id (the tree's libraries come from it). Built under a lock,
    so xdist workers wait for one build, into a partial folder renamed when complete.
    """
    build_image_id = runtime.image_id(BUILD_IMAGE)
    if build_image_id is None:
        raise TreeError(f"{BUILD_IMAGE} is missing (run scripts/bootstrap.sh): the agent's runtime libraries come from it")
    target = trees_dir() / f"{name}-{key(build_image_id)}"
    if tree_info(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if not tree_info(target):
            shutil.rmtree(target, ignore_errors=True)
            started = time.monotonic()
            partial = target.with_name(f".{target.name}.partial")
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir()
            fill(partial)
            size = sum(p.stat().st_size for p in partial.rglob("*") if p.is_file() and not p.is_symlink())
            info = {"name": name, "size_bytes": size, "build_seconds": round(time.monotonic() - started, 1)}
            (partial / COMPLETE).write_text(json.dumps(info) + "\n")
            partial.rename(target)
    return target


def ensure_tree(runtime: RuntimeProvider, spec: TreeSpec) -> Path:
    """The Python tree for `spec`, built once per machine."""
    return build_once(runtime, spec.name, spec.key, lambda partial: _fill(runtime, spec, partial))


def tree_mount(tree: Path) -> Mount:
    """The read-only mount of `tree` at MOUNT."""
    return Mount(tree, MOUNT)
