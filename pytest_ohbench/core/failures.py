"""Why an item failed, when the cause is the infrastructure and not the agent's work: the
record's `failure_class`, and what --ohbench-retries does about each.

A class is given where the failure is seen: a runtime raising a HarnessError or BuildFailed
names it (engine, image pull, an OOM-killed build), the agent stage notes that the kernel
OOM-killed something in the agent's container, and the gateway's meter shows LLM answers
that stayed 5xx after its own retries. Anything else has no class (""), and is not retried:
doing the same again gives the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_ohbench.core.record import TaskRecord

OOM_AGENT = "oom_agent"  # the kernel killed a process of the agent's container for its memory limit
OOM_BUILD = "oom_build"  # an image build step was killed (exit 137)
IMAGE_PULL = "image_pull"  # the image was to be pulled and the pull failed
ENGINE = "engine"  # the container engine refused or failed a request
LLM_5XX = "llm_5xx"  # the LLM kept answering 5xx past the gateway's retries
WORKER_LOST = "worker_lost"  # the xdist worker running it died (its host went down, or it was killed)
INFRA_CLASSES = frozenset({OOM_AGENT, OOM_BUILD, IMAGE_PULL, ENGINE, LLM_5XX, WORKER_LOST})
# Retried with more memory: double the last try's, never past MEMORY_CAP times the suite's.
MORE_MEMORY = frozenset({OOM_AGENT})
MEMORY_CAP = 4


def llm_class(record: "TaskRecord") -> str:
    """LLM_5XX when the gateway passed a 5xx answer on to the agent (its retries spent), else ""."""
    errors = (record.llm or {}).get("upstream_errors") or {}
    return LLM_5XX if any(str(status).startswith("5") for status in errors) else ""


def retried(record: "TaskRecord") -> bool:
    """Whether --ohbench-retries runs the item again: an infrastructure class on a harness
    error, or an agent stage OOM-killed whatever came of its patch (the agent did not get to
    work under the limit). Any other judged failure never is."""
    if record.failure_class == OOM_AGENT:
        return True
    return record.outcome.harness_error and record.failure_class in INFRA_CLASSES
