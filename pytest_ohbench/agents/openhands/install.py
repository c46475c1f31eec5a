"""The OpenHands wheelhouse: wheels for Python 3.13, pinned to the lock inside the release.

openhands-ai installs offline into a task container only when pinned to the poetry.lock
that ships inside its wheel (newer litellm, mcp and pydantic break it), without
pylatexenc (no wheel), and with four packages Python 3.13 no longer bundles. The host
downloads the wheels once per version and caches them; the agent's tree (agent_tree.py) is
installed offline from that folder.
"""

from __future__ import annotations

import email
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock
from packaging.requirements import Requirement

from pytest_ohbench.agents.base import DEFAULT_OPENHANDS_VERSION
from pytest_ohbench.core.errors import last_line
from pytest_ohbench.core.machine import cache_dir

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_VERSION = DEFAULT_OPENHANDS_VERSION
PYTHON = "3.13"
PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_28_x86_64", "manylinux_2_34_x86_64")
NO_WHEEL = {"pylatexenc"}  # sdist only: downloaded as a wheel we build, not from PyPI
PY313_EXTRAS = ["standard-aifc", "standard-chunk", "audioop-lts", "deprecated"]
REQUIREMENTS = "ohbench-requirements.txt"  # what the container installs (beside openhands-ai)
COMPLETE = ".ohbench-complete"
TARGET = {
    "python_version": PYTHON, "python_full_version": f"{PYTHON}.0", "sys_platform": "linux",
    "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix",
    "implementation_name": "cpython", "platform_python_implementation": "CPython", "extra": "",
}


class WheelhouseError(RuntimeError):
    """The wheelhouse could not be made; the message says what to pass instead."""


def _pip_download(*args: str) -> None:
    command = [sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:", "--python-version", PYTHON,
               *(f"--platform={p}" for p in PLATFORMS), *args]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        # pip's first ERROR line may only list versions it ignored: the real one follows.
        errors = [line for line in result.stderr.splitlines()
                  if line.startswith("ERROR") and not line.startswith("ERROR: Ignored the following")]
        errors = errors or [result.stderr.strip()[-300:]]
        raise WheelhouseError(f"pip download failed: {errors[0]}")


def _pip_wheel(target: str, *requirements: str) -> None:
    if not requirements:
        return
    command = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", target, *requirements]
    # A fixed zip timestamp makes the wheel byte-for-byte reproducible, so the OpenHands
    # layer's content hash (and its cached image) survive a rebuilt wheelhouse.
    environment = {**os.environ, "SOURCE_DATE_EPOCH": "315532800"}
    result = subprocess.run(command, capture_output=True, text=True, env=environment)
    if result.returncode != 0:
        raise WheelhouseError(f"pip wheel {' '.join(requirements)} failed: {result.stderr.strip()[-300:]}")


def _lock_pins(wheel: Path) -> list[str]:
    """Every `name==version` of the lock inside the openhands-ai wheel."""
    with zipfile.ZipFile(wheel) as archive:
        lock = tomllib.loads(archive.read("openhands/poetry.lock").decode())
    return [f"{p['name']}=={p['version']}" for p in lock["package"]]


def wheel_requirements(wheel: Path) -> list[Requirement]:
    """The requirements a wheel declares for Linux/3.13 (not those of its extras)."""
    with zipfile.ZipFile(wheel) as archive:
        metadata_name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = email.message_from_bytes(archive.read(metadata_name))
    requirements = [Requirement(raw) for raw in metadata.get_all("Requires-Dist") or []]
    return [r for r in requirements if not r.marker or r.marker.evaluate(TARGET)]


def requirements_and_pins(wheel: Path) -> tuple[list[str], list[str]]:
    """openhands-ai's own requirements for Linux/3.13 and `name==version` pins from its lock."""
    requirements = []
    for requirement in wheel_requirements(wheel):
        if requirement.name.lower() in NO_WHEEL:
            continue
        extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
        requirements.append(requirement.name + extras)
    pins = [pin for pin in _lock_pins(wheel) if pin.split("==")[0].lower() not in NO_WHEEL]
    return requirements + PY313_EXTRAS, pins


def fill_wheelhouse(target: Path, requirements: list[str], pins: list[str]) -> None:
    """Download wheels of `requirements` constrained to `pins` into `target`, once (under a lock).

    Packages with no wheel (NO_WHEEL: pylatexenc, imported at start-up) are built here at their pin.
    """
    if (target / COMPLETE).is_file():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if (target / COMPLETE).is_file():
            return
        target.mkdir(exist_ok=True)
        wheel_pins = [pin for pin in pins if pin.split("==")[0].lower() not in NO_WHEEL]
        built = [pin for pin in pins if pin.split("==")[0].lower() in NO_WHEEL]
        with tempfile.TemporaryDirectory() as scratch:
            constraints = Path(scratch) / "constraints.txt"
            constraints.write_text("\n".join(wheel_pins) + "\n")
            _pip_download("-d", str(target), "-c", str(constraints), *requirements)
            _pip_wheel(str(target), *built)
        (target / REQUIREMENTS).write_text("\n".join(requirements + [p.split("==")[0] for p in built]) + "\n")
        (target / COMPLETE).write_text("complete\n")


def ensure_wheelhouse(version: str = DEFAULT_VERSION, root: Path | None = None) -> Path:
    """The wheelhouse folder for `version`, downloaded once (under a lock) and then reused."""
    target = (root or cache_dir()) / f"openhands-{version}-cp313"
    if (target / COMPLETE).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if (target / COMPLETE).is_file():
            return target
        target.mkdir(exist_ok=True)
        _pip_download("--no-deps", "-d", str(target), f"openhands-ai=={version}")
        wheel = next(target.glob(f"openhands_ai-{version}-*.whl"))
        requirements, _ = requirements_and_pins(wheel)
    fill_wheelhouse(target, requirements, _lock_pins(wheel))
    return target


def download_release(target: Path, package: str, version: str) -> Path:
    """The wheel of `package` `version` alone in `target`, also when it declares no support for
    Python 3.13 (the tree may still run it, with its requirements resolved for 3.13)."""
    _pip_download("--no-deps", "--ignore-requires-python", "-d", str(target), f"{package}=={version}")
    prefix = package.replace("-", "_")
    wheels = sorted(target.glob(f"{prefix}-{version}-*.whl"))
    if not wheels:
        raise WheelhouseError(f"no wheel of {package} {version} in {target}")
    return wheels[-1]


def uv_binary() -> str:
    """The uv executable (the uv package ships its binary)."""
    from uv import find_uv_bin

    return find_uv_bin()


def _resolve(requirements: list[str], scratch: Path, constraints: list[str] | None = None) -> list[str]:
    """`name==version` pins of `requirements` (within `constraints`) for CPython 3.13 on manylinux x86_64 (uv's resolver)."""
    source = scratch / "requirements.in"
    source.write_text("\n".join(requirements) + "\n")
    pinned = scratch / "constraints.txt"
    pinned.write_text("\n".join(constraints or []) + "\n")
    command = [uv_binary(), "pip", "compile", "-q", "--no-header", "--no-annotate", "--python-version", PYTHON,
               "--python-platform", "x86_64-manylinux_2_40", "-c", str(pinned), str(source)]
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "UV_NO_CONFIG": "1"})
    if result.returncode != 0:
        raise WheelhouseError(f"resolving {' '.join(requirements)} failed: {last_line(result.stderr)}")
    return [line.strip() for line in result.stdout.splitlines() if "==" in line and not line.startswith("#")]


def _download_pins(pins: list[str], target: Path) -> None:
    """Wheels of every pin for Python 3.13; a pin with no wheel (sdist only) is built here."""
    left = list(pins)
    for _ in range(20):  # each round finds one more sdist-only package
        try:
            _pip_download("--no-deps", "-d", str(target), *left)
            return
        except WheelhouseError as exc:
            said = str(exc).lower().replace("_", "-")
            missing = [p for p in left if f"requirement {p.split('==')[0].lower().replace('_', '-')}==" in said]
            if not missing:
                raise
            _pip_wheel(str(target), *missing)
            left = [p for p in left if p not in missing]
    raise WheelhouseError("too many packages without wheels")


def fill_locked_wheelhouse(target: Path, requirements: list[str], lock: list[str]) -> None:
    """Wheels of `requirements` as a lock file pins them, for Python 3.13 on Linux (sdist-only ones built), once."""
    if (target / COMPLETE).is_file():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if (target / COMPLETE).is_file():
            return
        target.mkdir(exist_ok=True)
        # The lock covers every platform and extra: resolve what Linux/3.13 needs within its pins.
        with tempfile.TemporaryDirectory() as scratch:
            pins = _resolve(requirements, Path(scratch), lock)
        _download_pins(pins, target)
        (target / REQUIREMENTS).write_text("\n".join(pins) + "\n")
        (target / COMPLETE).write_text("complete\n")


def ensure_resolved_wheelhouse(target: Path, requirements: Callable[[Path], list[str]]) -> Path:
    """Wheels of `requirements(target)` (which may put files into `target` first), resolved by uv
    for Python 3.13 on Linux and pinned in REQUIREMENTS, downloaded once (under a lock)."""
    if (target / COMPLETE).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if (target / COMPLETE).is_file():
            return target
        target.mkdir(exist_ok=True)
        with tempfile.TemporaryDirectory() as scratch:
            pins = _resolve(requirements(target), Path(scratch))
        _download_pins(pins, target)
        (target / REQUIREMENTS).write_text("\n".join(pins) + "\n")
        (target / COMPLETE).write_text("complete\n")
    return target


def ensure_sdk_wheelhouse(version: str, root: Path | None = None) -> Path:
    """The OpenHands V1 (software-agent SDK) wheelhouse: openhands-sdk and openhands-tools `version`, pinned."""
    return ensure_resolved_wheelhouse((root or cache_dir()) / f"openhands-sdk-{version}-cp313",
                                      lambda _: [f"openhands-sdk=={version}", f"openhands-tools=={version}"])
