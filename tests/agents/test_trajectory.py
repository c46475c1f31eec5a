"""The one trajectory format (ATIF): an agent supplies only its parser; logs it cannot read,
and run folders from before the format, still give a trajectory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

from pytest_ohbench.agents.base import AgentSettings, BaseAgent, TrajectoryStep
from pytest_ohbench.agents.mini import MiniAgent
from pytest_ohbench.agents.trajectory import TRAJECTORY, load_trajectory, to_atif, validate, write_trajectory


class JsonlAgent(BaseAgent):
    """An agent whose own log is JSON lines of events (as CLI agents stream them)."""

    name = "jsonl-agent"
    raw_log: ClassVar[str] = "events.jsonl"

    @staticmethod
    def trajectory_steps(data: Any) -> list[TrajectoryStep]:
        steps = []
        for event in data:
            if event["type"] == "call":
                steps.append(TrajectoryStep("", [event["command"]], [], 0.0, prompt_tokens=event["in"], completion_tokens=event["out"],
                                            cost_usd=event["cost"]))
            elif event["type"] == "result":
                steps[-1].outputs.append(event["output"])
        return steps


class OwnFormatAgent(BaseAgent):
    """An agent that names no raw_log and writes its own format to trajectory.json."""

    name = "own"

    @staticmethod
    def trajectory_steps(data: Any) -> list[TrajectoryStep]:
        return [TrajectoryStep(text, [], [], 0.0) for text in data["said"]]


def test_an_agent_supplies_a_parser_and_gets_the_format(tmp_path: Path) -> None:
    events = [{"type": "call", "command": "ls", "in": 10, "out": 2, "cost": 0.5},
              {"type": "result", "output": "a.py"},
              {"type": "call", "command": "cat a.py", "in": 30, "out": 4, "cost": 0.25}]
    (tmp_path / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    path = write_trajectory(JsonlAgent(AgentSettings()), tmp_path, model="gpt", session_id="s1", prompt="fix it",
                            metered={"input_tokens": 40})
    assert path == tmp_path / TRAJECTORY and (tmp_path / "events.jsonl").is_file()  # the own log stays
    data = json.loads(path.read_text())
    assert validate(data) == []
    assert [(s["step_id"], s["source"]) for s in data["steps"]] == [(1, "user"), (2, "agent"), (3, "agent")]
    assert data["steps"][0]["message"] == "fix it" and "metrics" not in data["steps"][0]
    call = data["steps"][1]["tool_calls"][0]
    assert (call["function_name"], call["arguments"]) == ("bash", {"command": "ls"})
    assert data["steps"][1]["observation"]["results"] == [{"source_call_id": call["tool_call_id"], "content": "a.py"}]
    assert data["final_metrics"] == {"total_steps": 2, "total_prompt_tokens": 40, "total_completion_tokens": 6, "total_cost_usd": 0.75}
    assert data["agent"]["name"] == "jsonl-agent" and data["agent"]["model_name"] == "gpt" and data["agent"]["version"]
    assert data["extra"] == {"raw_log": "events.jsonl", "metered": {"input_tokens": 40}}


def test_a_trajectory_json_in_an_agents_own_format_is_moved_aside(tmp_path: Path) -> None:
    (tmp_path / TRAJECTORY).write_text(json.dumps({"said": ["hello"]}))
    write_trajectory(OwnFormatAgent(AgentSettings()), tmp_path, model=None, session_id="s", prompt="")
    assert json.loads((tmp_path / "own.raw.json").read_text()) == {"said": ["hello"]}
    data = json.loads((tmp_path / TRAJECTORY).read_text())
    assert [s["message"] for s in data["steps"]] == ["hello"] and validate(data) == []
    # Written again (a rebuilt report), the file in the format is left alone.
    assert write_trajectory(OwnFormatAgent(AgentSettings()), tmp_path, model=None, session_id="s", prompt="") is None


def test_costs_come_from_the_cost_so_far_when_steps_lack_their_own() -> None:
    steps = [TrajectoryStep("a", ["x"], [], 0.25), TrajectoryStep("b", ["y"], [], 1.0)]
    data = to_atif(steps, agent="a", version="1", model=None, session_id="s")
    assert [s["metrics"]["cost_usd"] for s in data["steps"]] == [0.25, 0.75]
    assert "total_prompt_tokens" not in data["final_metrics"]  # no step had tokens: no total claimed
    unpriced = to_atif([TrajectoryStep("a", ["x"], [], 0.0)], agent="a", version="1", model=None, session_id="s")
    assert "metrics" not in unpriced["steps"][0] and unpriced["final_metrics"] == {"total_steps": 1}


def test_an_older_run_folders_own_format_trajectory_still_shows(tmp_path: Path) -> None:
    # mini's trajectory, as runs before the format saved it under trajectory.json.
    messages = [{"role": "system", "content": "sys"}, {"role": "user", "content": "task"},
                {"role": "assistant", "content": "look", "extra": {"cost": 0.1, "actions": [{"command": "ls"}],
                                                                    "response": {"usage": {"prompt_tokens": 7, "completion_tokens": 1}}}},
                {"role": "user", "content": "a.py"}]
    (tmp_path / TRAJECTORY).write_text(json.dumps({"messages": messages}))
    data = load_trajectory(tmp_path, MiniAgent)
    assert data is not None and validate(data) == []
    assert [s["source"] for s in data["steps"]] == ["system", "user", "agent"]
    assert data["steps"][2]["observation"]["results"][0]["content"] == "a.py"
    assert data["final_metrics"]["total_prompt_tokens"] == 7


def test_validate_names_what_is_wrong() -> None:
    assert validate({"steps": []}) == ["schema_version is not ATIF-*"]
    bad = {"schema_version": "ATIF-v1.4", "session_id": "s", "agent": {"name": "a"},
           "steps": [{"step_id": 2, "source": "robot", "message": "m", "observation": {"results": [{"source_call_id": "c9", "content": ""}]}}]}
    assert validate(bad) == ["agent.version missing", "step 1: step_id 2", "step 1: source or message",
                             "step 1: observation answers no call (c9)"]
