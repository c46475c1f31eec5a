"""Records for items that ended without one: their xdist worker died while running them.

The controller saw only the item's node id and the location its worker announced at
`pytest_runtest_logstart`; from those it rebuilds what identifies the item, so the run's
results, summary and resume count it as an `infra_error` instead of losing it.
"""

from __future__ import annotations

import re
from pathlib import Path

from pytest_ohbench.core.failures import WORKER_LOST
from pytest_ohbench.core.outcomes import Outcome
from pytest_ohbench.core.record import TaskRecord
from pytest_ohbench.core.suite import load_suite

# `<id>`, `<id>[model]`, `<id>[model-a2]`, `<id>[a2]`, `<id>[agent-model-a2]` (collect.item_name).
_ITEM_NAME = re.compile(r"^(?P<id>.*?)(?:\[(?P<params>[^\[\]]*)\])?$")


def crash_record(
    nodeid: str, announced: str | None, run_id: str, agents: list[str], models: list[str], rootpath: Path, message: str
) -> TaskRecord:
    """An infra_error record for `nodeid`, whose worker crashed while running it.

    `announced` is the domain part of the location the worker sent at logstart
    ("<instance_id> (<file>:<line>)"); without it the instance id comes from the node id.
    """
    dataset, _, name = nodeid.partition("::")
    match = _ITEM_NAME.match(name)
    assert match is not None  # the pattern matches any string
    instance_id = announced.split(" (", 1)[0] if announced else match.group("id")
    params = match.group("params") or ""
    numbered = re.search(r"(?:^|-)a(\d+)$", params)
    attempt = int(numbered.group(1)) if numbered else 1
    named = params[: numbered.start()] if numbered else params
    # With several agents the name starts with the agent's (names may hold dashes: longest first).
    agent = agents[0] if len(agents) == 1 else ""
    if len(agents) > 1:
        agent = next((a for a in sorted(agents, key=len, reverse=True) if named == a or named.startswith(a + "-")), "")
        named = named[len(agent) + 1:] if agent else named
    model: str | None = named if named in models else None
    if model is None and len(models) == 1:
        model = models[0]  # with one model the node id carries no model name
    suite_dir = (rootpath / dataset).parent
    try:
        suite = load_suite(suite_dir)
        suite_name = suite.name if suite is not None else suite_dir.name
    except Exception:  # a broken suite.yaml must not lose the record
        suite_name = suite_dir.name
    record = TaskRecord(
        run_id=run_id,
        nodeid=nodeid,
        instance_id=instance_id,
        suite=suite_name,
        dataset=dataset,
        kind="",
        agent=agent,
        model=model,
        attempt=attempt,
    )
    record.set_outcome(Outcome.INFRA_ERROR, message)
    record.failure_class = WORKER_LOST
    return record
