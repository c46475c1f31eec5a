"""The harness's side of the gateway (in any process, xdist workers included): leases over HTTP."""

from __future__ import annotations

import dataclasses
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from pytest_ohbench.core.llm import LLMConfig
from pytest_ohbench.gateway.meter import Meter
from pytest_ohbench.gateway.server import ADMIN_HEADER, ADMIN_PREFIX

# Loopback only, and never through a proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class GatewayError(RuntimeError):
    """The gateway did not answer the harness as it should (one line)."""


@dataclasses.dataclass(frozen=True)
class GatewayAccess:
    """Where the run's gateway listens and the admin secret (crosses to xdist workers)."""

    url: str
    admin_secret: str
    socket: str | None = None  # the unix socket it also serves on, for sealed agent containers


class GatewayClient:
    """Leases and the run's spending, from the gateway's admin API."""

    def __init__(self, access: GatewayAccess, timeout: float = 30.0) -> None:
        self.access, self.timeout = access, timeout

    def _call(self, method: str, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        request = urllib.request.Request(
            self.access.url + ADMIN_PREFIX + path,
            data=None if payload is None else json.dumps(payload).encode(),
            method=method,
            headers={ADMIN_HEADER: self.access.admin_secret, "Content-Type": "application/json"},
        )
        try:
            with _OPENER.open(request, timeout=self.timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", errors="replace")[:300]
            raise GatewayError(f"LLM gateway at {self.access.url}: {method} {path}: HTTP {exc.code} {detail}") from None
        except (urllib.error.URLError, OSError, json.JSONDecodeError) as exc:
            raise GatewayError(f"LLM gateway at {self.access.url} did not answer {method} {path}: {exc}") from None

    def open_lease(self, item: str, cassette: str, section: str, budget: float) -> str:
        """A token for one item's agent run."""
        answer = self._call("POST", "leases", {"item": item, "cassette": cassette, "section": section, "budget": budget})
        return str(answer["token"])

    def close_lease(self, token: str) -> Meter:
        """End the lease (its token stops working) and return what it metered."""
        return Meter.from_dict(self._call("DELETE", f"leases/{token}"))

    def run_spent(self) -> float:
        """USD the run has spent so far, as the gateway counts it."""
        return float(self._call("GET", "run")["spent_usd"])


def agent_view(llm: LLMConfig, base_url: str, token: str) -> LLMConfig:
    """The section as an agent sees it: the gateway's URL, the item's token, no other secret."""
    return dataclasses.replace(llm.without_secrets(), api_key=token, base_url=base_url)


def on_loopback(url: str) -> str:
    """`url` at 127.0.0.1, same port and path: the gateway as a sealed container's relay serves it."""
    parts = urllib.parse.urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return urllib.parse.urlunsplit(parts._replace(netloc=f"127.0.0.1{port}"))


@dataclasses.dataclass
class ItemLease:
    """One item's lease, as the worker holds it."""

    token: str
    llm: LLMConfig  # agent_view of the item's section
    client: GatewayClient
    upstream: str | None  # the section's own base_url (None when replaying: nothing to reach)
    meter: Meter | None = None  # set once closed

    def close(self) -> Meter:
        """Close the lease once; later calls return the same meter."""
        if self.meter is None:
            self.meter = self.client.close_lease(self.token)
        return self.meter
