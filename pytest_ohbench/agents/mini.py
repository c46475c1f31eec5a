"""The `mini` agent: mini-swe-agent's loop and litellm model, its commands run in our runtime.

mini-swe-agent's DefaultAgent and LitellmModel do the work; this module adds an
environment adapter onto the task container, prices calls with the --llm-config section's
per-token prices (from each response's usage block) and keeps the api_key out of the
trajectory it saves. The graded patch is the agent's submission (mini-swe-agent's protocol:
`echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT && cat patch.txt`), not the workspace diff.
"""

from __future__ import annotations

import datetime
import functools
import json
import os
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar

import yaml

from pytest_ohbench.agents.base import AgentContext, AgentResult, AgentSettings, AgentStatus, BaseAgent, TrajectoryStep
from pytest_ohbench.agents.chat_model import is_openai_compatible, make_chat_model
from pytest_ohbench.core.llm import BUDGET_EXCEEDED, LLMConfig, redact
from pytest_ohbench.runtime.base import Runtime

SUBMIT_MARKER = "COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"
TRAJECTORY = "mini.traj.json"  # mini-swe-agent's own trajectory (its file suffix)
COMMAND_TIMEOUT = 120  # seconds per command; the agent's wall-time limit bounds the whole run
# mini-swe-agent's exit statuses -> AgentStatus
EXIT_STATUSES = {
    "Submitted": AgentStatus.FINISHED,
    "TimeExceeded": AgentStatus.TIMEOUT,
    "RepeatedFormatError": AgentStatus.FORMAT_ERROR,
}


class BudgetSpent(Exception):
    """The LLM gateway refused a call: the task's or the run's budget is spent."""


def _minisweagent(litellm: bool = False) -> Any:
    """mini-swe-agent, imported on first use; its litellm model only when asked for.

    litellm costs a worker seconds of CPU and about 180 MiB: models at an OpenAI-compatible
    endpoint use the light client in chat_model.py instead.
    """
    # mini-swe-agent prints a banner at import; litellm fetches its price map over the
    # network at import unless told not to.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import minisweagent.agents.default
    import minisweagent.config
    import minisweagent.exceptions

    if litellm:
        import minisweagent.models.litellm_model
    return minisweagent


class RuntimeEnvironment:
    """mini-swe-agent's Environment protocol over a pytest-ohbench Runtime."""

    def __init__(self, runtime: Runtime, env: dict[str, str], timeout: int = COMMAND_TIMEOUT) -> None:
        self.runtime, self.env, self.timeout = runtime, env, timeout

    def execute(self, action: dict[str, Any], cwd: str = "", *, timeout: int | None = None) -> dict[str, Any]:
        """Run one bash action in the container; raise Submitted on the submit marker."""
        limit = timeout or self.timeout
        result = self.runtime.execute(action.get("command", ""), timeout=limit, cwd=cwd or None, env=self.env)
        output = {"output": result.output, "returncode": result.exit_code, "exception_info": ""}
        if result.timed_out:
            output["exception_info"] = f"The command timed out after {limit} seconds and was killed."
        elif result.oom_killed:
            output["exception_info"] = "The command was killed: it used more memory than the container has."
        lines = result.output.lstrip().splitlines(keepends=True)
        if lines and lines[0].strip() == SUBMIT_MARKER and result.exit_code == 0:
            submission = "".join(lines[1:])
            extra = {"exit_status": "Submitted", "submission": submission}
            raise _minisweagent().exceptions.Submitted({"role": "exit", "content": submission, "extra": extra})
        return output

    def get_template_vars(self, **kwargs: Any) -> dict[str, Any]:
        return {"cwd": self.runtime.workdir, **kwargs}

    def serialize(self) -> dict[str, Any]:
        return {"info": {"config": {"environment_type": "pytest_ohbench.RuntimeEnvironment", "cwd": self.runtime.workdir}}}


@functools.cache
def priced_model_class() -> type:
    """LitellmModel priced by the LLM section and counting tokens; the key is not in its config."""

    base = _minisweagent(litellm=True).models.litellm_model.LitellmModel

    class PricedLitellmModel(base):  # type: ignore[misc,valid-type]
        # A spent budget will not come back: the gateway's refusal must not be retried.
        abort_exceptions: ClassVar[list[type[Exception]]] = [*base.abort_exceptions, BudgetSpent]

        def __init__(self, llm: LLMConfig, **kwargs: Any) -> None:
            super().__init__(model_name=llm.model, model_kwargs=model_kwargs(llm), cost_tracking="ignore_errors", **kwargs)
            self.llm = llm
            self.input_tokens = self.output_tokens = self.cached_tokens = self.calls = 0

        def _query(self, messages: list[dict[str, str]], **kwargs: Any) -> Any:
            # The api_key goes to litellm per call, never into self.config (which is serialized).
            if self.llm.api_key:
                kwargs["api_key"] = self.llm.api_key
            try:
                return super()._query(messages, **kwargs)
            except Exception as exc:
                if BUDGET_EXCEEDED in str(exc):
                    raise BudgetSpent(str(exc)) from exc
                raise

        def _calculate_cost(self, response: Any) -> dict[str, float]:
            usage = getattr(response, "usage", None)
            prompt = int(getattr(usage, "prompt_tokens", 0) or 0)
            completion = int(getattr(usage, "completion_tokens", 0) or 0)
            details = getattr(usage, "prompt_tokens_details", None)
            cached = int(getattr(details, "cached_tokens", 0) or 0)
            self.input_tokens += prompt
            self.output_tokens += completion
            self.cached_tokens += cached
            self.calls += 1
            return {"cost": self.llm.cost(prompt, completion, cached)}

    return PricedLitellmModel


def model_kwargs(llm: LLMConfig) -> dict[str, Any]:
    """litellm.completion arguments from the section (all but the api_key)."""
    kwargs: dict[str, Any] = {
        "api_base": llm.base_url,
        "api_version": llm.api_version,
        "temperature": llm.temperature,
        "top_p": llm.top_p,
        "max_tokens": llm.max_output_tokens,
        "custom_llm_provider": llm.custom_llm_provider,
        "drop_params": llm.drop_params,
    }
    return {key: value for key, value in kwargs.items() if value is not None}


def swebench_config() -> dict[str, Any]:
    """mini-swe-agent's own SWE-bench configuration (prompts, templates, environment)."""
    return yaml.safe_load(_minisweagent().config.get_config_path("swebench").read_text())


class MiniAgent(BaseAgent):
    """mini-swe-agent, driven by the item's --llm-config section, in the task container."""

    name = "mini"
    raw_log = TRAJECTORY
    needs_runtime = True
    needs_llm = True  # the model is called from the host, not the container: no network

    def __init__(self, settings: AgentSettings) -> None:
        super().__init__(settings)
        self.max_steps, self.max_cost = settings.max_steps, settings.max_cost_per_task

    def agent_version(self) -> str:
        return metadata.version("mini-swe-agent")

    def run(self, context: AgentContext) -> AgentResult:
        assert context.runtime is not None and context.llm is not None
        if context.llm.num_retries is not None:
            # mini-swe-agent retries failed calls itself (read per call from the environment).
            os.environ["MSWEA_MODEL_RETRY_STOP_AFTER_ATTEMPT"] = str(context.llm.num_retries + 1)
        settings = swebench_config()
        model_settings = {k: v for k, v in settings["model"].items() if k in ("observation_template", "format_error_template")}
        light = is_openai_compatible(context.llm)
        model = (make_chat_model if light else priced_model_class())(context.llm, **model_settings)
        environment = RuntimeEnvironment(context.runtime, env=dict(settings["environment"].get("env", {})))
        trajectory = context.log_dir / TRAJECTORY
        agent = _minisweagent().agents.default.DefaultAgent(
            model,
            environment,
            system_template=settings["agent"]["system_template"],
            instance_template=settings["agent"]["instance_template"].replace("/testbed", context.runtime.workdir),
            step_limit=self.max_steps,
            cost_limit=self.max_cost,
            wall_time_limit_seconds=int(context.time_limit),
            output_path=trajectory,
        )
        status, error, submission = AgentStatus.FINISHED, None, ""
        try:
            info = agent.run(task=context.prompt)
            exit_status = info.get("exit_status", "")
            # What the agent submitted is what is graded, as in mini-swe-agent's own SWE-bench
            # runner: the workspace also holds its patch.txt and scratch files. No submission
            # (a step or cost limit) is an empty patch there too.
            submission = str(info.get("submission") or "") if exit_status == "Submitted" else ""
            # Any other ending (an exception the loop caught, say) stopped the agent early.
            status = EXIT_STATUSES.get(exit_status, AgentStatus.STOPPED if exit_status else AgentStatus.FINISHED)
            if exit_status == "LimitsExceeded":
                status = AgentStatus.MAX_STEPS if agent.n_calls >= self.max_steps > 0 else AgentStatus.MAX_COST
        except Exception as exc:  # the LLM or the loop failed: the harness cannot judge
            status = AgentStatus.ERROR
            error = f"mini: {type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        finally:
            scrub(trajectory, context.llm.secrets())
        return AgentResult(
            patch=submission,
            status=status,
            error=redact(error, context.llm.secrets()) if error else None,
            cost_usd=agent.cost,
            input_tokens=model.input_tokens,
            output_tokens=model.output_tokens,
            cached_tokens=model.cached_tokens,
            llm_calls=model.calls,
            steps=agent.n_calls,
        )


    @staticmethod
    def trajectory_steps(data: Any) -> list[TrajectoryStep]:
        """The system prompt, the task and each assistant step of mini-swe-agent's trajectory,
        with its call's tokens (the response's usage block) and cost."""
        steps: list[TrajectoryStep] = []
        cost = 0.0
        messages = data.get("messages", []) if isinstance(data, dict) else []
        for message in messages:
            extra = message.get("extra") or {}
            role, content = message.get("role"), message.get("content")
            text = content if isinstance(content, str) else json.dumps(content) if content is not None else ""
            if role == "assistant":
                cost += float(extra.get("cost", 0.0))
                commands = [action.get("command", "") for action in extra.get("actions", [])]
                step = TrajectoryStep(text, commands, [], cost, cost_usd=float(extra.get("cost", 0.0)),
                                      timestamp=iso_time(extra.get("timestamp")))
                usage = (extra.get("response") or {}).get("usage") if isinstance(extra.get("response"), dict) else None
                if isinstance(usage, dict):
                    step.prompt_tokens = int(usage.get("prompt_tokens") or 0)
                    step.completion_tokens = int(usage.get("completion_tokens") or 0)
                    step.cached_tokens = int((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
                steps.append(step)
            elif role in ("system", "user") and not any(s.source == "agent" for s in steps):
                steps.append(TrajectoryStep(text, [], [], 0.0, source=role))
            elif role in ("tool", "user") and steps:
                steps[-1].outputs.append(text)
        return steps


def iso_time(stamp: Any) -> str | None:
    """An epoch time (mini-swe-agent's message timestamps) as ISO 8601 UTC."""
    if not isinstance(stamp, (int, float)):
        return None
    return datetime.datetime.fromtimestamp(stamp, datetime.timezone.utc).isoformat(timespec="milliseconds")


def scrub(path: Path, secrets: list[str]) -> None:
    """Remove secrets from a file the agent library wrote (belt and braces)."""
    if path.is_file() and secrets:
        path.write_text(redact(path.read_text(encoding="utf-8"), secrets), encoding="utf-8")
