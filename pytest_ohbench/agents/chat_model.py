"""A light model for the `mini` agent: OpenAI-compatible chat completions over `requests`.

litellm costs an xdist worker about 4 CPU-seconds and 180 MiB to import; an endpoint that
speaks the OpenAI API (a `openai/...` model with a `base_url`: vLLM, a proxy, the scripted
server) needs none of its provider logic. This model sends the same request LitellmModel
would (messages without `extra`, the bash tool, the section's sampling settings) with
`requests`, which the Docker SDK has already imported, and gives mini-swe-agent the same
message dicts back. Other models still go through litellm.
"""

from __future__ import annotations

import logging
import time
from types import SimpleNamespace
from typing import Any, ClassVar

import requests

from pytest_ohbench.core.llm import LLMConfig

logger = logging.getLogger("pytest_ohbench.chat_model")
REQUEST_TIMEOUT = 600.0  # seconds for one completion (a slow model answering a long context)


def is_openai_compatible(llm: LLMConfig) -> bool:
    """True when `llm` is an `openai/...` model at a given base_url (no other provider logic needed)."""
    provider = (llm.custom_llm_provider or "openai").lower()
    return bool(llm.base_url) and provider == "openai" and llm.model.startswith("openai/")


class ChatError(Exception):
    """The endpoint answered with an error status (or something that is not a completion)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class FatalChatError(ChatError):
    """An error that another attempt cannot fix (bad request, auth, unknown model): not retried."""


def _namespace(value: Any) -> Any:
    """JSON turned into attribute access, as mini-swe-agent's tool-call parser reads it."""
    if isinstance(value, dict):
        return SimpleNamespace(**{key: _namespace(item) for key, item in value.items()})
    if isinstance(value, list):
        return [_namespace(item) for item in value]
    return value


def make_chat_model(llm: LLMConfig, **config: Any) -> Any:
    """An instance of the light model, built on mini-swe-agent's helpers (none of them import litellm)."""
    from minisweagent.exceptions import FormatError
    from minisweagent.models import GLOBAL_MODEL_STATS
    from minisweagent.models.utils.actions_toolcall import (
        BASH_TOOL,
        format_toolcall_observation_messages,
        parse_toolcall_actions,
    )
    from minisweagent.models.utils.openai_multimodal import expand_multimodal_content
    from minisweagent.models.utils.retry import retry

    class OpenAIChatModel:
        """mini-swe-agent's Model protocol, priced by the LLM section, counting tokens."""

        abort_exceptions: ClassVar[list[type[BaseException]]] = [FatalChatError, KeyboardInterrupt]

        def __init__(self) -> None:
            self.llm = llm
            self.observation_template: str = config.get(
                "observation_template",
                "{% if output.exception_info %}<exception>{{output.exception_info}}</exception>\n{% endif %}"
                "<returncode>{{output.returncode}}</returncode>\n<output>\n{{output.output}}</output>",
            )
            self.format_error_template: str = config.get("format_error_template", "{{ error }}")
            self.input_tokens = self.output_tokens = self.cached_tokens = self.calls = 0
            self.session = requests.Session()

        def _body(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
            body: dict[str, Any] = {
                "model": llm.model.split("/", 1)[1],
                "messages": [{k: v for k, v in m.items() if k != "extra"} for m in messages],
                "tools": [BASH_TOOL],
            }
            for key, value in (("temperature", llm.temperature), ("top_p", llm.top_p), ("max_tokens", llm.max_output_tokens)):
                if value is not None:
                    body[key] = value
            return body

        def _post(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
            url = str(llm.base_url).rstrip("/") + "/chat/completions"
            headers = {"Authorization": f"Bearer {llm.api_key}"} if llm.api_key else {}
            response = self.session.post(url, json=self._body(messages), headers=headers, timeout=REQUEST_TIMEOUT)
            if response.status_code >= 400:
                text = response.text.strip().splitlines()[0][:300] if response.text.strip() else response.reason
                # Like litellm's abort list: a client error other than rate limiting is final.
                kind = FatalChatError if 400 <= response.status_code < 500 and response.status_code not in (408, 409, 429) else ChatError
                raise kind(f"HTTP {response.status_code} from {url}: {text}", response.status_code)
            try:
                payload = response.json()
                payload["choices"][0]["message"]
            except (ValueError, KeyError, IndexError, TypeError) as exc:
                raise ChatError(f"{url} answered with something that is not a chat completion: {exc}") from None
            return payload

        def _cost(self, payload: dict[str, Any]) -> dict[str, float]:
            usage = payload.get("usage") or {}
            prompt = int(usage.get("prompt_tokens") or 0)
            completion = int(usage.get("completion_tokens") or 0)
            cached = int((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
            self.input_tokens += prompt
            self.output_tokens += completion
            self.cached_tokens += cached
            self.calls += 1
            return {"cost": llm.cost(prompt, completion, cached)}

        def query(self, messages: list[dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
            for attempt in retry(logger=logger, abort_exceptions=self.abort_exceptions):  # type: ignore[arg-type]
                with attempt:
                    payload = self._post(messages)
            cost = self._cost(payload)
            GLOBAL_MODEL_STATS.add(cost["cost"])
            choice = payload["choices"][0]
            message = dict(choice["message"])
            try:
                actions = parse_toolcall_actions(
                    _namespace(message.get("tool_calls") or []),
                    format_error_template=self.format_error_template,
                    template_kwargs={"finish_reason": choice.get("finish_reason")},
                )
            except FormatError as exc:
                exc.messages[0]["extra"].update(cost)
                exc.messages[0]["extra"]["response"] = payload
                raise
            message.setdefault("content", None)
            message["extra"] = {"actions": actions, "response": payload, **cost, "timestamp": time.time()}
            return message

        def format_message(self, **kwargs: Any) -> dict[str, Any]:
            return expand_multimodal_content(kwargs, pattern="")

        def format_observation_messages(
            self, message: dict[str, Any], outputs: list[dict[str, Any]], template_vars: dict[str, Any] | None = None
        ) -> list[dict[str, Any]]:
            return format_toolcall_observation_messages(
                actions=message.get("extra", {}).get("actions", []),
                outputs=outputs,
                observation_template=self.observation_template,
                template_vars=template_vars,
                multimodal_regex="",
            )

        def get_template_vars(self, **kwargs: Any) -> dict[str, Any]:
            return {"model_name": llm.model, **kwargs}

        def serialize(self) -> dict[str, Any]:
            # No api_key: the trajectory is written to the run folder.
            model = {"model_name": llm.model, "base_url": llm.base_url}
            return {"info": {"config": {"model": model, "model_type": "pytest_ohbench.OpenAIChatModel"}}}

    return OpenAIChatModel()
