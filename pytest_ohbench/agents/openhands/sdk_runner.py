"""Runs inside the task container with the agent tree's Python: the SDK's default coding agent on one task.

    python sdk_runner.py SETTINGS_JSON

SETTINGS_JSON (0600, deleted by the harness after the run) holds the LLM settings, the
workspace, the prompt file, the iteration limit and where to write: `events.json` (the
conversation's event log, as the SDK serializes it), `result.json` (execution status,
accumulated metrics) and the LLM completions. Standard library + the SDK only: this file is
not imported by the harness.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path


def main() -> int:
    settings = json.loads(Path(sys.argv[1]).read_text())
    out = Path(settings["out"])
    from openhands.sdk import LLM, Conversation
    from openhands.tools.preset.default import get_default_agent

    llm = LLM(usage_id="agent", log_completions=True, log_completions_folder=str(out / "completions"), **settings["llm"])
    agent = get_default_agent(llm=llm, cli_mode=True)  # headless: no browser tools
    conversation = Conversation(
        agent=agent,
        workspace=settings["workdir"],
        persistence_dir=str(out / "conversation"),
        max_iteration_per_run=settings["max_iterations"],
        visualizer=None,
    )
    error = None
    try:
        conversation.send_message(Path(settings["prompt_file"]).read_text())
        conversation.run()
    except Exception as exc:  # the harness records it as the run's error
        error = f"{type(exc).__name__}: {exc}".splitlines()[0]
        traceback.print_exc()
    state = conversation.state
    events = [event.model_dump(mode="json") for event in state.events]
    (out / "events.json").write_text(json.dumps(events))
    metrics = conversation.conversation_stats.get_combined_metrics()
    result = {
        "status": str(getattr(state.execution_status, "value", state.execution_status)),
        "error": error,
        "max_iterations": settings["max_iterations"],
        "metrics": metrics.model_dump(mode="json"),
    }
    (out / "result.json").write_text(json.dumps(result))
    return 0 if error is None else 1


if __name__ == "__main__":
    sys.exit(main())
