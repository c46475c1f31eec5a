"""The upstream side of the gateway: where a section's requests go, with which key, and retries.

Agents keep speaking the protocol their client picks for the section's model (OpenAI chat
completions or responses, Anthropic messages, Gemini generateContent); the gateway forwards
the request unchanged to the section's `base_url`, or the provider's public endpoint when
the section sets none, swapping the item's token for the real key where the agent put it:
the header it used (Authorization, x-api-key, api-key, x-goog-api-key) or Gemini's `key`
query parameter.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Mapping
from email.message import Message
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx

from pytest_ohbench.core.llm import LLMConfig
from pytest_ohbench.gateway.cassette import route
from pytest_ohbench.gateway.usage import ANTHROPIC, GEMINI, protocol_of

# litellm providers that speak the OpenAI protocol at a public endpoint (anthropic and gemini:
# their own); any other provider needs a base_url (e.g. a LiteLLM proxy).
PROVIDER_BASES = {
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com/v1",
    "gemini": "https://generativelanguage.googleapis.com",  # Google AI Studio (litellm's gemini/)
    "openrouter": "https://openrouter.ai/api/v1",
    "deepseek": "https://api.deepseek.com/v1",
    "groq": "https://api.groq.com/openai/v1",
    "mistral": "https://api.mistral.ai/v1",
    "together_ai": "https://api.together.xyz/v1",
    "fireworks_ai": "https://api.fireworks.ai/inference/v1",
    "xai": "https://api.x.ai/v1",
}
AUTH_HEADERS = ("authorization", "x-api-key", "api-key", "x-goog-api-key")  # OpenAI, Anthropic, Azure, Gemini
KEY_PARAM = "key"  # Gemini's API key as a query parameter
# Never forwarded: hop-by-hop headers, and what the gateway sets itself.
DROPPED_HEADERS = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "trailers",
    "transfer-encoding", "upgrade", "host", "content-length", "accept-encoding", *AUTH_HEADERS,
}
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504, 529})  # 529: Anthropic "overloaded"
MAX_RETRY_WAIT = 60.0  # seconds: a Retry-After longer than this is cut to it
_API_VERSION = re.compile(r"/v1(?:beta|alpha)?$")
_VERSIONED = re.compile(r"^/v1(?:beta|alpha)?/")


class UpstreamUnreachable(Exception):
    """No answer from the upstream: connection refused, timed out or dropped."""


def upstream_base(llm: LLMConfig) -> str:
    """Where the section's requests go; ValueError (naming the section) when the gateway cannot tell."""
    if llm.base_url:
        return llm.base_url.rstrip("/")
    provider = llm.custom_llm_provider or (llm.model.split("/", 1)[0] if "/" in llm.model else "openai")
    if provider in PROVIDER_BASES:
        return PROVIDER_BASES[provider]
    raise ValueError(
        f"[llm.{llm.name}] model {llm.model!r}: the LLM gateway forwards OpenAI-, Anthropic- and Gemini-style requests "
        f"and knows no endpoint for provider {provider!r}; set base_url (e.g. a LiteLLM proxy)"
    )


def upstream_url(base: str, path: str, api_key: str | None = None) -> str:
    """The upstream URL for a request to the gateway's `path`, with `api_key` for a `key` query parameter.

    OpenAI and Anthropic paths: the gateway's /v1 prefix is the base's. Gemini clients put the
    API version in the path themselves (`/v1beta/models/...`): it replaces the base's own.
    """
    split = urlsplit(path)
    query = _swap_key(split.query, api_key)
    tail = f"?{query}" if query else ""
    if protocol_of(split.path) == GEMINI:
        endpoint = split.path.rstrip("/")
        if endpoint.startswith("/v1/") and _VERSIONED.match(endpoint[3:]):
            endpoint = endpoint[3:]  # the agent's base_url was the gateway's .../v1, its client added a version
        if _VERSIONED.match(endpoint):
            base = _API_VERSION.sub("", base.rstrip("/"))
        return base.rstrip("/") + endpoint + tail
    endpoint = route(path)
    # Anthropic clients add /v1 themselves; a bare host as base_url means the API's /v1.
    if protocol_of(endpoint) == ANTHROPIC and urlsplit(base).path in ("", "/"):
        base = base.rstrip("/") + "/v1"
    return base + ("" if endpoint == "/" else endpoint) + tail


def _swap_key(query: str, api_key: str | None) -> str:
    """The query with its `key` (the item's token) replaced by the real key, or left out without one."""
    pairs = parse_qsl(query, keep_blank_values=True)
    if not any(name == KEY_PARAM for name, _ in pairs):
        return query  # untouched: the agent's own encoding
    return urlencode([(name, api_key if name == KEY_PARAM else value) for name, value in pairs if name != KEY_PARAM or api_key])


def token_of(headers: Message | Mapping[str, str], path: str = "") -> str | None:
    """The credential an agent sent (the item's token): Bearer, x-api-key, api-key, x-goog-api-key or `?key=`."""
    for name in AUTH_HEADERS:
        value = headers.get(name)
        if value:
            value = value.strip()
            return value[7:].strip() if value.lower().startswith("bearer ") else value
    keys = [value for name, value in parse_qsl(urlsplit(path).query) if name == KEY_PARAM and value]
    return keys[0] if keys else None


def upstream_headers(headers: Message, api_key: str | None) -> dict[str, str]:
    """The agent's headers for the upstream: its token swapped for the real key, in the same header."""
    forwarded = {name: value for name, value in headers.items() if name.lower() not in DROPPED_HEADERS}
    forwarded["Accept-Encoding"] = "identity"  # the gateway reads usage out of the body
    for name in AUTH_HEADERS:
        if headers.get(name) and api_key:
            forwarded[name] = f"Bearer {api_key}" if name == "authorization" else api_key
    return forwarded


def retry_wait(attempt: int, retry_after: str | None, base: float) -> float:
    """Seconds to wait before retry `attempt` (0-based): the upstream's Retry-After, else doubling from `base`."""
    if retry_after:
        try:
            return min(max(float(retry_after), 0.0), MAX_RETRY_WAIT)
        except ValueError:
            pass  # an HTTP date: fall back to the backoff
    return min(base * 2**attempt, 30.0)


@dataclasses.dataclass
class Tally:
    """What one agent request cost upstream: HTTP requests sent, and answers retried."""

    sent: int = 0
    retried: int = 0


def send(client: httpx.Client, request: httpx.Request, retries: int, base_wait: float, tally: Tally) -> httpx.Response:
    """Send `request`, retrying 429/5xx answers and dropped connections up to `retries` times.

    Returns the (streamed, open) last response, which may be an error. A refused or
    timed-out connection raises UpstreamUnreachable at once: nothing listens, or the
    upstream took too long, and retrying would only make the agent wait. Messages name the
    URL without its query, which may hold the real key.
    """
    shown = f"{request.url.scheme}://{request.url.netloc.decode()}{request.url.path}"
    for attempt in range(retries + 1):
        last = attempt == retries
        tally.sent += 1
        try:
            response = client.send(request, stream=True)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise UpstreamUnreachable(f"cannot connect to {request.url.scheme}://{request.url.netloc.decode()} ({exc})") from None
        except httpx.TimeoutException:
            raise UpstreamUnreachable(f"{shown} did not answer in time") from None
        except httpx.TransportError as exc:  # the connection dropped mid-answer: worth another try
            if last:
                raise UpstreamUnreachable(f"{shown}: {type(exc).__name__}: {exc}") from None
            tally.retried += 1
            time.sleep(retry_wait(attempt, None, base_wait))
            continue
        if response.status_code in RETRY_STATUSES and not last:
            response.read()
            response.close()
            tally.retried += 1
            time.sleep(retry_wait(attempt, response.headers.get("retry-after"), base_wait))
            continue
        return response
    raise AssertionError("unreachable")  # the loop returns or raises on its last attempt
