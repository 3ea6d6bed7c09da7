"""Throughput of the /api/v1 session routes against a running botportal.

    python bench/chatbotkit_api.py --url http://127.0.0.1:8300 --secret sk-... [--requests 2000] [--concurrency 16]

Creates a public bot with the owner's secret, then measures, one after the other:
`bot/{id}/session/create` (one transaction: conversation + hashed token), `conversation/{id}/complete`
(token lookup, locked turn, two message inserts) spread over many conversations, and a 100-message
`message/list`. Prints requests/s and latency percentiles; compare the ratios with PERFORMANCE.md.
"""

import argparse
import json
import statistics
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor


def call(url: str, *, token: str | None = None, body: dict | None = None) -> dict:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers, method="POST" if body is not None else "GET")  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (the URL is the operator's)
        return json.loads(response.read())


def measure(name: str, jobs: list, concurrency: int) -> list:
    latencies, results = [], []

    def run(job):
        started = time.perf_counter()
        result = job()
        latencies.append(time.perf_counter() - started)
        return result

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(run, jobs))
    elapsed = time.perf_counter() - started
    latencies.sort()
    p95 = latencies[int(len(latencies) * 0.95) - 1]
    print(
        f"{name:<16} {len(jobs) / elapsed:8.0f} req/s   p50 {statistics.median(latencies) * 1000:6.1f} ms"
        f"   p95 {p95 * 1000:6.1f} ms   ({len(jobs)} requests, {concurrency} concurrent)"
    )
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--secret", required=True)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    api = args.url.rstrip("/") + "/api/v1"

    bot = call(f"{api}/bot/create", token=args.secret, body={"name": "bench", "visibility": "public"})["id"]
    sessions = measure(
        "session/create",
        [lambda: call(f"{api}/bot/{bot}/session/create", body={})] * args.requests,
        args.concurrency,
    )
    measure(
        "complete",
        [
            (
                lambda s=s: call(
                    f"{api}/conversation/{s['conversationId']}/complete", token=s["token"], body={"text": "hi"}
                )
            )
            for s in sessions
        ],
        args.concurrency,
    )
    first = sessions[0]
    for _ in range(49):
        call(f"{api}/conversation/{first['conversationId']}/complete", token=first["token"], body={"text": "more"})
    listing = measure(
        "message/list",
        [lambda: call(f"{api}/conversation/{first['conversationId']}/message/list", token=first["token"])]
        * (args.requests // 4),
        args.concurrency,
    )
    assert len(listing[0]["items"]) == 100


if __name__ == "__main__":
    main()
