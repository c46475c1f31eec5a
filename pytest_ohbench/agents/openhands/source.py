"""Bring your own OpenHands: a checkout or fork (0.x or V1) installed into the agent's tree.

A source is recognised by its layout: OpenHands 0.x has `openhands/core/main.py` beside a
`pyproject.toml` and `poetry.lock`; OpenHands V1 (the software-agent SDK repository) has
`openhands-sdk/` and `openhands-tools/` beside a `uv.lock`. Its dependencies are pinned from
that lock file and installed once per lock into a dependency tree (agent_tree.py, read-only at
/opt/ohbench-agent); the source's own code is built into wheels and installed into a small
second tree, mounted read-only at /opt/ohbench-agent-src and found through a `.pth` file of
the first. So an edit to the source rebuilds seconds of code, not the whole tree, and the
edit is what runs.

A release with no wheel for the agent's Python 3.13 (openhands-ai 0.49 to 1.1 publish
CPython-3.12-only wheels) is used the same way from its sdist, which is such a tree.
"""

from __future__ import annotations

import base64
import dataclasses
import email
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Iterable
from pathlib import Path

from filelock import FileLock
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from pytest_ohbench.agents.agent_tree import (
    BUILD_IMAGE,
    COMPLETE,
    MOUNT,
    PYTHON,
    UV_PLATFORM,
    TreeError,
    TreeSpec,
    ensure_tree,
    tree_info,
    trees_dir,
)
from pytest_ohbench.agents.openhands.install import (
    PY313_EXTRAS,
    REQUIREMENTS,
    TARGET,
    WheelhouseError,
    fill_locked_wheelhouse,
    uv_binary,
)
from pytest_ohbench.core.errors import last_line
from pytest_ohbench.core.machine import cache_dir
from pytest_ohbench.runtime.provider import BuildFailed, Mount, RuntimeProvider

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SOURCE_MOUNT = "/opt/ohbench-agent-src"  # the source's own code, beside the dependency tree
SKIPPED = {".git", "__pycache__", "node_modules", ".venv", ".mypy_cache", ".pytest_cache"}


class SourceError(ValueError):
    """Not a usable OpenHands source tree; the message says why and what to pass (one line)."""


@dataclasses.dataclass(frozen=True)
class Source:
    """An OpenHands checkout: its kind, its lock file and the projects (folders) to build."""

    root: Path
    kind: str  # "0.x" or "v1"
    lock: Path
    projects: tuple[Path, ...]

    @property
    def check(self) -> str:
        """Python code the installed source must import (the entry point the agent runs)."""
        return "import openhands.core.main" if self.kind == "0.x" else "import openhands.sdk, openhands.tools.preset.default"

    @property
    def version(self) -> str:
        """The version its pyproject.toml declares (0.x: poetry's, V1: openhands-sdk's)."""
        data = tomllib.loads((self.projects[0] / "pyproject.toml").read_text())
        return str(data.get("project", {}).get("version") or data.get("tool", {}).get("poetry", {}).get("version") or "")


def source_version(path: Path) -> str:
    """A checkout's declared version and where it came from (its code tree is keyed by its content)."""
    try:
        return f"{inspect_source(path).version} ({path})"
    except SourceError:
        return str(path)


def inspect_source(path: Path) -> Source:
    """The source at `path`, or SourceError naming what is missing."""
    root = path.expanduser().resolve()
    if not root.is_dir():
        raise SourceError(f"--openhands-source {path}: not a directory")
    if (root / "openhands" / "core" / "main.py").is_file():
        projects: tuple[Path, ...]
        kind, lock, projects = "0.x", root / "poetry.lock", (root,)
    elif (root / "openhands-sdk" / "openhands" / "sdk").is_dir():
        kind, lock, projects = "v1", root / "uv.lock", (root / "openhands-sdk", root / "openhands-tools")
    else:
        raise SourceError(
            f"--openhands-source {path}: not an OpenHands tree (neither openhands/core/main.py of OpenHands 0.x "
            "nor openhands-sdk/openhands/sdk of OpenHands V1 is in it); pass a checkout of OpenHands or of a fork"
        )
    for project in projects:
        if not (project / "pyproject.toml").is_file():
            raise SourceError(f"--openhands-source {path}: {project.relative_to(root) or '.'}/pyproject.toml is missing")
    if not lock.is_file():
        raise SourceError(f"--openhands-source {path}: no {lock.name}: its dependencies are installed as that lock pins them")
    return Source(root, kind, lock, projects)


def lock_pins(lock: Path) -> list[str]:
    """`name==version` of every package from a registry in a poetry.lock or uv.lock (workspace members left out)."""
    data = tomllib.loads(lock.read_text())
    pins = []
    for package in data.get("package", []):
        source = package.get("source") or {}
        if lock.name == "uv.lock" and "registry" not in source:
            continue  # the workspace's own projects: built from the source
        if "version" in package:
            pins.append(f"{package['name']}=={package['version']}")
    return pins


def source_key(source: Source) -> str:
    """A hash of the source's files (what its wheels are built from), cheap enough for every worker."""
    digest = hashlib.sha256(source.kind.encode())
    files = [source.lock]
    for project in source.projects:
        for current, folders, names in os.walk(project):
            folders[:] = sorted(f for f in folders if f not in SKIPPED)
            files.extend(Path(current) / name for name in sorted(names) if not name.endswith(".pyc"))
    for path in files:
        digest.update(f"{path.relative_to(source.root)}\0".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def registered_agent_classes(sources: Iterable[str]) -> list[str]:
    """The names 0.x agenthub `__init__.py` sources register (`Agent.register('Name', ...)`)."""
    return sorted({m.group(1) for text in sources for m in re.finditer(r"Agent\.register\(\s*['\"](\w+)['\"]", text)})


def agent_classes_of(source: Source) -> list[str]:
    """The agent classes a 0.x source registers."""
    if source.kind != "0.x":
        return []
    return registered_agent_classes(p.read_text(errors="replace") for p in (source.root / "openhands" / "agenthub").glob("*/__init__.py"))


def _pure(wheel: Path) -> Path:
    """A wheel of pure Python retagged py3-none-any (poetry tags a build-script wheel with the host's Python)."""
    name, version = wheel.name.split("-")[:2]
    with zipfile.ZipFile(wheel) as archive:
        if any(n.endswith((".so", ".pyd")) for n in archive.namelist()) or wheel.name.endswith("-py3-none-any.whl"):
            return wheel
        files = {info.filename: archive.read(info) for info in archive.infolist()}
    record = next(n for n in files if n.endswith(".dist-info/RECORD"))
    wheel_file = next(n for n in files if n.endswith(".dist-info/WHEEL"))
    lines = [line for line in files[wheel_file].decode().splitlines() if not line.startswith(("Tag:", "Root-Is-Purelib:"))]
    files[wheel_file] = ("\n".join([*lines, "Root-Is-Purelib: true", "Tag: py3-none-any"]) + "\n").encode()
    rows = []
    for filename, data in files.items():
        if filename == record:
            continue
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        rows.append(f"{filename},sha256={digest},{len(data)}")
    files[record] = ("\n".join([*rows, f"{record},,"]) + "\n").encode()
    target = wheel.with_name(f"{name}-{version}-py3-none-any.whl")
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for filename, data in files.items():
            info = zipfile.ZipInfo(filename, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            out.writestr(info, data)
    wheel.unlink()
    return target


def build_wheels(source: Source, target: Path) -> list[Path]:
    """Wheels of the source's projects, built by their own build backends (pip, build isolation)."""
    target.mkdir(parents=True, exist_ok=True)
    # The VS Code extension needs npm and a headless run never uses it; a fixed timestamp
    # keeps the wheel bytes reproducible.
    environment = {**os.environ, "SKIP_VSCODE_BUILD": "1", "SOURCE_DATE_EPOCH": "315532800"}
    for project in source.projects:
        command = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--ignore-requires-python", "-w", str(target), str(project)]
        result = subprocess.run(command, capture_output=True, text=True, env=environment)
        if result.returncode != 0:
            raise SourceError(f"--openhands-source {source.root}: building {project.name} failed: {last_line(result.stderr)}")
    return [_pure(wheel) for wheel in sorted(target.glob("*.whl"))]


def requirements_of(wheels: list[Path], kind: str) -> list[str]:
    """What the wheels require on Linux/CPython 3.13, without each other and without sdist-only packages."""
    own = set()
    metadata = []
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
            message = email.message_from_bytes(archive.read(name))
        own.add(canonicalize_name(str(message["Name"])))
        metadata.append(message)
    requirements = []
    for message in metadata:
        for raw in message.get_all("Requires-Dist") or []:
            requirement = Requirement(raw)
            if canonicalize_name(requirement.name) in own:
                continue
            if requirement.marker and not requirement.marker.evaluate(TARGET):
                continue
            extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
            requirements.append(requirement.name + extras)
    # openhands-ai 0.x imports modules Python 3.13 dropped from its standard library.
    return sorted(set(requirements + (PY313_EXTRAS if kind == "0.x" else [])))


def ensure_dependencies(source: Source, wheels: list[Path]) -> Path:
    """The wheelhouse of the source's dependencies, pinned by its lock file: one per lock and requirements."""
    requirements = requirements_of(wheels, source.kind)
    pins = lock_pins(source.lock)
    key = hashlib.sha256(json.dumps([requirements, pins]).encode()).hexdigest()[:12]
    target = cache_dir() / f"openhands-deps-{key}-cp313"
    try:
        fill_locked_wheelhouse(target, requirements, pins)
    except WheelhouseError as exc:
        raise SourceError(f"--openhands-source {source.root}: the dependencies its {source.lock.name} pins: {exc}") from None
    return target


def dependency_spec(source: Source, wheelhouse: Path) -> TreeSpec:
    """The tree of the source's dependencies (no OpenHands code in it: that comes from the source mount)."""
    name = f"openhands-deps-{source.kind}-{wheelhouse.name.split('-')[2]}"
    return TreeSpec(name, wheelhouse, (("-r", REQUIREMENTS),), check="import litellm", extra_path=SOURCE_MOUNT)


@dataclasses.dataclass(frozen=True)
class SourceTrees:
    """The two read-only trees a source runs from."""

    dependencies: Path  # mounted at MOUNT
    code: Path  # mounted at SOURCE_MOUNT

    def mounts(self) -> list[Mount]:
        return [Mount(self.dependencies, MOUNT), Mount(self.code, SOURCE_MOUNT)]


def _install_code(runtime: RuntimeProvider, source: Source, wheels: list[Path], dependencies: Path, target: Path) -> None:
    started = time.monotonic()
    partial = target.with_name(f".{target.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    command = [uv_binary(), "pip", "install", "-q", "--target", str(partial), "--python-version", "3.13", "--python-platform",
               UV_PLATFORM, "--no-deps", "--no-index", "--link-mode", "copy", *map(str, wheels)]
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "UV_NO_CONFIG": "1"})
    if result.returncode != 0:
        raise TreeError(f"installing {source.root} failed: {last_line(result.stderr)}")
    shutil.rmtree(partial / "bin", ignore_errors=True)
    # Bytecode now (the mount is read-only), then the import the agent starts with, by the tree's Python.
    script = f"{PYTHON} -m compileall -q -j 0 {SOURCE_MOUNT} >/dev/null 2>&1 || true; {PYTHON} -c \"$OHBENCH_CHECK\""
    try:
        runtime.run_build(BUILD_IMAGE, ["sh", "-c", script],
                          [Mount(dependencies, MOUNT), Mount(partial, SOURCE_MOUNT, read_only=False)], {"OHBENCH_CHECK": source.check})
    except BuildFailed as exc:
        raise TreeError(f"{source.root} does not import in the agent's tree: {exc}") from None
    info = {"name": target.name, "source": str(source.root), "dependencies": str(dependencies),
            "build_seconds": round(time.monotonic() - started, 1)}
    (partial / COMPLETE).write_text(json.dumps(info) + "\n")
    partial.rename(target)


def ensure_source_trees(runtime: RuntimeProvider, source: Source) -> SourceTrees:
    """The source's dependency tree (once per lock) and code tree (once per content), built under locks."""
    target = trees_dir() / f"openhands-src-{source.kind}-{source_key(source)}"
    info = tree_info(target)
    if info and tree_info(Path(info["dependencies"])):
        return SourceTrees(Path(info["dependencies"]), target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        info = tree_info(target)
        if info and tree_info(Path(info["dependencies"])):
            return SourceTrees(Path(info["dependencies"]), target)
        shutil.rmtree(target, ignore_errors=True)
        with tempfile.TemporaryDirectory() as scratch:
            wheels = build_wheels(source, Path(scratch))
            dependencies = ensure_tree(runtime, dependency_spec(source, ensure_dependencies(source, wheels)))
            _install_code(runtime, source, wheels, dependencies, target)
    return SourceTrees(dependencies, target)


def release_source(version: str) -> Source:
    """openhands-ai `version` from its sdist (downloaded once, unpacked in the cache), as a source tree."""
    target = cache_dir() / f"openhands-ai-{version}-sdist"
    if not (target / COMPLETE).is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(target) + ".lock"):
            if not (target / COMPLETE).is_file():
                shutil.rmtree(target, ignore_errors=True)
                with tempfile.TemporaryDirectory() as scratch:
                    command = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
                               "--ignore-requires-python", "-d", scratch, f"openhands-ai=={version}"]
                    result = subprocess.run(command, capture_output=True, text=True)
                    archives = list(Path(scratch).glob("*.tar.gz"))
                    if result.returncode != 0 or not archives:
                        errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR")] or ["no sdist"]
                        raise SourceError(f"openhands-ai {version}: neither a wheel for Python 3.13 nor an sdist ({errors[0]})")
                    with tarfile.open(archives[0]) as archive:
                        if hasattr(tarfile, "data_filter"):  # no links or paths out of the folder
                            archive.extractall(scratch, filter="data")
                        else:  # pragma: no cover
                            archive.extractall(scratch)
                    unpacked = next(p for p in Path(scratch).iterdir() if p.is_dir())
                    shutil.move(str(unpacked), str(target))
                (target / COMPLETE).write_text(json.dumps({"version": version}) + "\n")
    return inspect_source(target)


def has_release_source(version: str) -> bool:
    """Whether `version` was already found to come from its sdist on this machine."""
    return (cache_dir() / f"openhands-ai-{version}-sdist" / COMPLETE).is_file()
