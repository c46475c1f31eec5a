"""The task model shared by every loader: a common part every stage reads, plus a check spec.

Loaders (SWE-bench rows, prompt folders, perf records, ...) produce a `Task`. Its common part
(id, prompt, image, workspace, limits) is what the pipeline and the agents use; `check` is
read only by the checker registered for its type, and `reference` only by the oracle. What an
agent sees is `Task.view()`, built from the common part alone, so no kind can leak answers.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any


class CheckSpec:
    """How a task's work is judged: one dataclass per way of judging (see checks/)."""


@dataclasses.dataclass
class PatchTestsSpec(CheckSpec):
    """SWE-style: apply the agent's patch, reset and apply `test_patch`, run, grade F2P/P2P."""

    test_patch: str = ""
    fail_to_pass: list[str] = dataclasses.field(default_factory=list)
    pass_to_pass: list[str] = dataclasses.field(default_factory=list)
    test_command: str | None = None  # the row's own test command, overriding the suite's


@dataclasses.dataclass
class Reference:
    """What the oracle may use to solve the task: never shown to any other agent.

    The oracle applies `patch` when there is one; otherwise it copies the host folder `files`
    (if any) to SOLUTION_DIR in the agent's container and runs `command` in the workspace.
    """

    patch: str = ""
    files: Path | None = None
    command: str = ""


SOLUTION_DIR = "/ohbench/solution"
# The image namespace --ohbench-image-prefix replaces (Multi-SWE-bench's, as its run_infer does).
PREFIXED_IMAGE_NAMESPACE = "mswebench"


@dataclasses.dataclass
class InputFile:
    """A host file or folder copied into the agent's container before the agent starts."""

    source: Path
    target: str  # absolute, or relative to the workspace


@dataclasses.dataclass(frozen=True)
class TaskView:
    """What an agent sees of a task: never the check spec or the reference solution."""

    instance_id: str
    repo: str
    base_commit: str
    prompt: str
    hints_text: str
    location: str


@dataclasses.dataclass
class Task:
    """One benchmark instance, whatever format it was loaded from."""

    instance_id: str
    kind: str  # "swe" | "multi-swe" | "prompt" | "perf" | ...: recorded, never branched on
    prompt: str  # what the agent is asked (SWE: the problem statement)
    check: CheckSpec
    reference: Reference = dataclasses.field(default_factory=Reference)
    repo: str = ""
    base_commit: str = ""  # "" when the workspace is not a git repository at a known commit
    hints_text: str = ""
    image: str | None = None  # the task's own image name, if it has one
    workdir: str | None = None  # overrides the suite's container.workdir
    timeout: float | None = None  # the whole item (row or front matter); beats suite.yaml
    agent_timeout: float | None = None  # the agent stage; beats suite.yaml
    inputs: list[InputFile] = dataclasses.field(default_factory=list)
    source_file: str = ""
    source_line: int = 0
    fields: dict[str, Any] = dataclasses.field(default_factory=dict)  # the raw row

    def template_fields(self) -> dict[str, Any]:
        """Values usable in suite templates such as `{instance_id}` or `{org}_m_{repo}`."""
        org, _, name = self.repo.partition("/")
        values: dict[str, Any] = {k: v for k, v in self.fields.items() if isinstance(v, (str, int))}
        values.update(
            instance_id=self.instance_id,
            repo=self.repo,
            repo_name=name or org,
            org=org if name else "",
            repo_slug=self.repo.replace("/", "__"),
            base_commit=self.base_commit,
            instance_id_lower=self.instance_id.lower(),
        )
        return values

    def view(self) -> TaskView:
        """What a non-oracle agent may see: never the check spec or the reference."""
        return TaskView(
            instance_id=self.instance_id,
            repo=self.repo,
            base_commit=self.base_commit,
            prompt=self.prompt,
            hints_text=self.hints_text,
            location=self.location,
        )

    @property
    def location(self) -> str:
        """`file:line` of the row this task came from (just the file for one-task files)."""
        if not self.source_file:
            return "?"
        name = Path(self.source_file).name
        return f"{name}:{self.source_line}" if self.source_line else name
