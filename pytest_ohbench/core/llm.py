"""LLM settings from an OpenHands-style config.toml: `[llm]` defaults, `[llm.<name>]` sections."""

from __future__ import annotations

import dataclasses
import os
import re
import socket
import sys
import urllib.parse
from collections.abc import Iterable
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# OpenHands keeps these as SecretStr too; they may sit in `extra` and must be masked like api_key.
_SECRET_EXTRA = re.compile(r"(^|_)(api_key|secret|secret_key|access_key|access_key_id|token)$")
_TYPES: dict[str, tuple[type, ...]] = {
    "model": (str,),
    "api_key": (str,),
    "base_url": (str,),
    "api_version": (str,),
    "custom_llm_provider": (str,),
    "temperature": (int, float),
    "top_p": (int, float),
    "input_cost_per_token": (int, float),
    "output_cost_per_token": (int, float),
    "cache_read_cost_per_token": (int, float),
    "max_input_tokens": (int,),
    "max_output_tokens": (int,),
    "num_retries": (int,),
    "drop_params": (bool,),
}


class LLMConfigError(ValueError):
    """A config file or section that cannot be used; one line naming the file."""


# How every refusal of the run's LLM gateway starts (its budgets): agents' adapters look for it.
BUDGET_EXCEEDED = "ohbench budget exceeded"


@dataclasses.dataclass
class LLMConfig:
    """One resolved `[llm.<name>]` section (with the `[llm]` keys it does not set)."""

    name: str
    model: str = ""
    api_key: str | None = dataclasses.field(default=None, repr=False)
    base_url: str | None = None
    api_version: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_input_tokens: int | None = None
    max_output_tokens: int | None = None
    num_retries: int | None = None
    input_cost_per_token: float | None = None
    output_cost_per_token: float | None = None
    # Input tokens read from the prompt cache; unset: priced like other input tokens.
    cache_read_cost_per_token: float | None = None
    custom_llm_provider: str | None = None
    drop_params: bool | None = None
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)  # keys OpenHands knows, we pass on

    def __repr__(self) -> str:
        shown = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "api_key"}
        shown["extra"] = {k: "***" if is_secret(k, v) else v for k, v in self.extra.items()}
        key = "'***'" if self.api_key else "None"
        return f"LLMConfig(api_key={key}, " + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")"

    def without_secrets(self) -> LLMConfig:
        """This section with no api_key and no secret in `extra` (what may leave the controller)."""
        extra = {key: value for key, value in self.extra.items() if not is_secret(key, value)}
        return dataclasses.replace(self, api_key=None, extra=extra)

    def secrets(self) -> list[str]:
        """Values that must never be written anywhere: the api_key (and AWS-style keys in `extra`)."""
        found = [self.api_key] if self.api_key else []
        return found + [v for k, v in self.extra.items() if is_secret(k, v)]

    def cost(self, input_tokens: int, output_tokens: int, cached_tokens: int = 0) -> float:
        """USD for the given usage at this section's per-token prices (0 when unset).

        `cached_tokens` are part of `input_tokens` (as in OpenAI usage blocks): they cost
        `cache_read_cost_per_token` when the section sets it, else the input price.
        """
        input_price = self.input_cost_per_token or 0.0
        cached = min(cached_tokens, input_tokens) if self.cache_read_cost_per_token is not None else 0
        return (
            (input_tokens - cached) * input_price
            + cached * (self.cache_read_cost_per_token or 0.0)
            + output_tokens * (self.output_cost_per_token or 0.0)
        )

    def to_env(self) -> dict[str, str]:
        """Conventional environment variables for a CLI agent (api key included: never log them)."""
        env = {"LLM_MODEL": self.model}
        if self.api_key:
            env.update(LLM_API_KEY=self.api_key, OPENAI_API_KEY=self.api_key)
        if self.base_url:
            env.update(LLM_BASE_URL=self.base_url, OPENAI_BASE_URL=self.base_url, OPENAI_API_BASE=self.base_url)
        return env


def is_secret(key: str, value: Any) -> bool:
    """Whether an `extra` key of a section holds a secret (an api_key, token, secret key...)."""
    return isinstance(value, str) and bool(value) and bool(_SECRET_EXTRA.search(key))


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret (4+ characters) replaced by ***.

    Shorter secrets are ignored: masking "ab" everywhere would wreck the text and hide nothing.
    Longest first, so a secret that contains another is not left half-masked.
    """
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def section_name(name: str) -> str:
    """`llm.gpt` and `gpt` both name the section `gpt`; `llm` names the defaults."""
    return name[4:] if name.startswith("llm.") else name


def _load(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise LLMConfigError(f"{path}: LLM config file not found (pass --ohbench-config PATH)")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:  # its message carries "(at line L, column C)"
        raise LLMConfigError(f"{path}: invalid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LLMConfigError(f"{path}: cannot read: {exc}") from None
    llm = data.get("llm")
    if not isinstance(llm, dict):
        raise LLMConfigError(f"{path}: no [llm] section")
    return llm


def available_sections(path: Path) -> list[str]:
    """Names of the sections as --llm-config takes them: `llm` and `llm.<name>`."""
    llm = _load(path)
    return ["llm", *sorted(f"llm.{k}" for k, v in llm.items() if isinstance(v, dict))]


def _expand(value: Any, path: Path, where: str, key: str) -> Any:
    # Unknown keys may hold arrays or tables of strings (extra headers...): expand those too.
    if isinstance(value, list):
        return [_expand(item, path, where, key) for item in value]
    if isinstance(value, dict):
        return {k: _expand(v, path, where, f"{key}.{k}") for k, v in value.items()}
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        variable = match.group(1)
        if variable not in os.environ:
            raise LLMConfigError(f"{path}: {where} {key} uses ${{{variable}}}, which is not set")
        return os.environ[variable]

    return _VAR.sub(substitute, value)


def load_llm_config(path: Path, name: str) -> LLMConfig:
    """The section `name` of `path`, inheriting `[llm]`, with ${VAR} expanded."""
    llm = _load(path)
    section = section_name(name)
    defaults = {k: v for k, v in llm.items() if not isinstance(v, dict)}
    if section == "llm":
        values = defaults
    elif isinstance(llm.get(section), dict):
        values = {**defaults, **llm[section]}
    else:
        known = ", ".join(available_sections(path))
        raise LLMConfigError(f"{path}: no section [llm.{section}] (sections: {known})")
    title = "llm" if section == "llm" else f"llm.{section}"
    own = set(values) if section == "llm" else set(llm[section])
    known_fields = {f.name for f in dataclasses.fields(LLMConfig)} - {"name", "extra"}
    config = LLMConfig(name=section)
    for key, raw in values.items():
        # Name the section that wrote the bad value, which is not the one asked for when inherited.
        where = f"[{title}]" if key in own else f"[llm] (inherited by [{title}])"
        value: Any = _expand(raw, path, where, key)
        if key not in known_fields:
            config.extra[key] = value
            continue
        types = _TYPES[key]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            wanted = " or ".join(t.__name__ for t in types)
            raise LLMConfigError(f"{path}: {where} {key} must be {wanted}, got {value!r}")
        if float in types and isinstance(value, (int, float)):  # TOML `temperature = 0` is an int
            value = float(value)
        setattr(config, key, value)
    if not config.model:
        raise LLMConfigError(f"{path}: [{title}] sets no model")
    return config


def unreachable_reason(base_url: str | None, timeout: float = 3.0) -> str | None:
    """Why nothing answers at `base_url`'s host and port (connection refused, ...), or None.

    A refused connection is final: asking again for minutes, as LLM clients' retry loops do,
    only delays the error, so agents are not started against an endpoint that is down.
    """
    if not base_url:
        return None  # the provider's own endpoint: nothing to check without a request
    parsed = urllib.parse.urlsplit(base_url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return None
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname, port), timeout=timeout):
            return None
    except OSError as exc:
        return f"{type(exc).__name__}: {exc.strerror or exc}"
