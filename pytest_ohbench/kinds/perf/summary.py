"""The perf part of summary.json: agent vs human speedup per task and per model.

Definitions (the meaning of every field of summary.json's `perf`):

- A perf record is *timed* when its check measured the three states (`check.speedups` is
  set); failing correctness tests, an empty patch or a patch that does not apply are not.
- `tasks[instance_id][model]`: for that task and model (the LLM section, or the agent's name
  when it has no model): `attempts` and `resolved` counts, `timed` attempts, and over the
  timed attempts the geometric means of `agent_speedup` and `human_speedup` (over base, as
  judged by the criterion's estimator) and of `agent_vs_human` = agent speedup / human speedup
  (1.0: as fast as the human's commit), with the `criterion` and the `reasons` of the verdicts.
- `models[model]`: over the tasks with a timed attempt, the geometric means of the tasks'
  figures above, and `tasks`, `timed_tasks`, `resolved_tasks` (resolved in some attempt).
- `replay[instance_id]`: whether the human's commit replays on this machine, as measured
  before any agent was judged on it (kinds/perf/checker.py): `valid`, the human's `human_speedup`
  over base, the criterion's `bar`, the paired test's `p_value` and, when not valid, the
  `reason` (`below_bar`, `not_significant`). A task that does not replay has `replay_invalid`
  true in its `tasks` entries and is left out of `models` and `comparisons`.
- `comparisons`: ISO-Bench's `<provider>_vs_human` figures: the geometric mean of
  `agent_vs_human` over every timed task of the models of that provider (the part of the
  model name before "/", or the agent's name).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from pytest_ohbench.core.record import TaskRecord, counted


def _geomean(values: list[float | None]) -> float | None:
    kept = [v for v in values if v is not None and v > 0 and math.isfinite(v)]
    if not kept:
        return None
    return round(math.exp(sum(math.log(v) for v in kept) / len(kept)), 6)


def model_label(record: TaskRecord) -> str:
    return record.model or record.agent or "-"


def perf_summary(records: Iterable[TaskRecord]) -> dict[str, Any] | None:
    """The `perf` section of summary.json, or None when no record is a perf task."""
    perf = [r for r in records if r.kind == "perf"]
    if not perf:
        return None
    grouped: dict[str, dict[str, list[TaskRecord]]] = defaultdict(lambda: defaultdict(list))
    for record in perf:
        grouped[record.instance_id][model_label(record)].append(record)
    tasks: dict[str, dict[str, Any]] = {}
    per_model: dict[str, list[dict[str, Any]]] = defaultdict(list)
    providers: dict[str, str] = {}
    replays: dict[str, dict[str, Any]] = {}
    for instance, by_model in sorted(grouped.items()):
        tasks[instance] = {}
        replay = next((r.check["replay"] for rs in by_model.values() for r in rs if isinstance(r.check.get("replay"), dict)), None)
        if replay is not None:
            replays[instance] = {k: replay.get(k) for k in ("valid", "reason", "human_speedup", "bar", "p_value", "criterion")}
        invalid = any(not counted(r) for rs in by_model.values() for r in rs)
        for model, attempts in sorted(by_model.items()):
            timed_records = [r for r in attempts if isinstance(r.check.get("speedups"), dict)]
            entry = {
                "attempts": len(attempts),
                "resolved": sum(r.resolved for r in attempts),
                "timed": len(timed_records),
                "criterion": next((r.check.get("criterion") for r in attempts if r.check.get("criterion")), None),
                "reasons": sorted({str(r.check.get("reason") or r.outcome.value) for r in attempts}),
                "agent_speedup": _geomean([r.check["speedups"].get("agent") for r in timed_records]),
                "human_speedup": _geomean([r.check["speedups"].get("human") for r in timed_records]),
                "agent_vs_human": _geomean([r.check["speedups"].get("agent_vs_human") for r in timed_records]),
                "replay_invalid": invalid,
            }
            tasks[instance][model] = entry
            if not invalid:
                per_model[model].append(entry)
            per_model.setdefault(model, [])
            providers[model] = next((str(r.check["provider"]) for r in attempts if r.check.get("provider")), model.split("/")[0])
    models = {}
    for model, entries in sorted(per_model.items()):
        timed = [e for e in entries if e["timed"]]
        models[model] = {
            "provider": providers[model],
            "tasks": len(entries),
            "timed_tasks": len(timed),
            "resolved_tasks": sum(1 for e in entries if e["resolved"]),
            "agent_speedup": _geomean([e["agent_speedup"] for e in timed]),
            "human_speedup": _geomean([e["human_speedup"] for e in timed]),
            "agent_vs_human": _geomean([e["agent_vs_human"] for e in timed]),
        }
    by_provider: dict[str, list[float | None]] = defaultdict(list)
    for model, entries in per_model.items():
        by_provider[providers[model]] += [e["agent_vs_human"] for e in entries if e["timed"]]
    comparisons = {f"{provider}_vs_human": _geomean(values) for provider, values in sorted(by_provider.items())}
    return {"tasks": tasks, "models": models, "comparisons": comparisons, "replay": replays}


def format_perf(perf: dict[str, Any]) -> list[str]:
    """Terminal lines: each model's speedup next to the human's."""
    lines = []
    invalid = sorted(task for task, replay in (perf.get("replay") or {}).items() if not replay.get("valid"))
    if invalid:
        lines.append(f"perf: {len(invalid)} task(s) whose human commit does not replay here, left out of the rates "
                     f"(replay_invalid): {', '.join(invalid)}")
    for model, figures in perf["models"].items():
        agent, human, ratio = (figures[k] for k in ("agent_speedup", "human_speedup", "agent_vs_human"))
        shown = (
            f"agent {agent:.2f}x, human {human:.2f}x over base, agent/human {ratio:.3f}"
            if ratio is not None else "no timed task"
        )
        lines.append(
            f"perf {model}: {figures['resolved_tasks']}/{figures['tasks']} resolved, "
            f"{figures['timed_tasks']} timed; {shown}"
        )
    return lines
