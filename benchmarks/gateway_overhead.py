"""What the LLM gateway adds to one LLM call: median latency through it vs straight to the upstream.

    .venv/bin/python benchmarks/gateway_overhead.py [--requests 300] [--stream]

The upstream is the scripted LLM server on 127.0.0.1 answering at once (latency 0), so
what remains is HTTP and the gateway's own work: reading the request, the budget check,
swapping the key, forwarding, reading the usage out of the answer and metering it. One
client per path (both keep their connection alive); requests alternate A/B, B/A in pairs
so load on the machine hits both alike; the figures are medians over the pairs, and the
overhead is the median of the per-pair differences.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import httpx

from pytest_ohbench.core.llm import LLMConfig
from pytest_ohbench.gateway.server import Gateway
from pytest_ohbench.tools.testing.llm_server import ScriptedLLMServer

SCRIPT = {"scripts": [{"responses": [
    {"content": "ok " * 50, "tool_calls": [{"name": "bash", "arguments": {"command": "ls -la"}}],
     "usage": {"prompt_tokens": 1200, "completion_tokens": 80, "cached_tokens": 1000}},
]}]}
BODY = {"model": "gpt-4o", "messages": [{"role": "system", "content": "x" * 4000}, {"role": "user", "content": "fix it"}]}


def timed(client: httpx.Client, url: str, headers: dict[str, str], stream: bool) -> float:
    body = {**BODY, "stream": True, "stream_options": {"include_usage": True}} if stream else BODY
    started = time.perf_counter()
    if stream:
        with client.stream("POST", url, json=body, headers=headers) as response:
            response.raise_for_status()
            for _ in response.iter_bytes():
                pass
    else:
        client.post(url, json=body, headers=headers).raise_for_status()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="pairs of requests (default 300)")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--stream", action="store_true", help="streamed completions instead of whole ones")
    args = parser.parse_args()
    with ScriptedLLMServer(SCRIPT) as server:
        llm = LLMConfig(name="gpt", model="openai/gpt-4o", api_key="sk-bench", base_url=server.base_url,
                        input_cost_per_token=1e-6, output_cost_per_token=2e-6)
        with Gateway({"gpt": llm}) as gateway, httpx.Client() as direct, httpx.Client() as proxied:
            token = gateway.open_lease("bench", "bench.jsonl", "gpt", budget=0).token
            paths = {
                "direct": (direct, f"{server.base_url}/chat/completions", {"Authorization": "Bearer sk-bench"}),
                "gateway": (proxied, f"{gateway.url}/v1/chat/completions", {"Authorization": f"Bearer {token}"}),
            }
            for _ in range(args.warmup):
                for client, url, headers in paths.values():
                    timed(client, url, headers, args.stream)
            times: dict[str, list[float]] = {"direct": [], "gateway": []}
            for pair in range(args.requests):
                order = ["direct", "gateway"] if pair % 2 == 0 else ["gateway", "direct"]
                for name in order:
                    client, url, headers = paths[name]
                    times[name].append(timed(client, url, headers, args.stream))
            meter = gateway.close_lease(token)
    differences = [g - d for g, d in zip(times["gateway"], times["direct"], strict=True)]
    ms = 1000.0
    report = {
        "requests_per_path": args.requests,
        "stream": args.stream,
        "direct_median_ms": round(statistics.median(times["direct"]) * ms, 3),
        "gateway_median_ms": round(statistics.median(times["gateway"]) * ms, 3),
        "overhead_median_ms": round(statistics.median(differences) * ms, 3),
        "overhead_p90_ms": round(statistics.quantiles(differences, n=10)[-1] * ms, 3),
        "metered_calls": meter.calls if meter else 0,
    }
    print("LLM gateway overhead per request (scripted upstream on 127.0.0.1, latency 0; A/B interleaved, medians)")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
