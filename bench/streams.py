"""Streaming benchmark: visitors arriving at once, each streaming one answer from a language model.

    make bench                                   # runs bench/load.py, then this
    .venv/bin/python bench/streams.py --visitors 300 --tokens 40 --interval 0.1
    .venv/bin/python bench/streams.py --server wsgi          # the earlier deployment, gunicorn sync workers
    .venv/bin/python bench/streams.py --protocol directline  # the same answers over Direct Line's WebSocket

Each visitor opens a session with a public bot whose model is served by bench/fake_upstream.py (an
OpenAI-compatible upstream streaming `--tokens` tokens `--interval` s apart, in a process of its own)
and streams one answer over JSONL (`POST /api/v1/conversation/{id}/complete`, `Accept: application/jsonl`).
With `--protocol directline`, each visitor does what Web Chat does with a token from its site's back end:
the token (`POST /v3/directline/tokens/generate` with the bot's secret), the conversation started with it
(`POST /v3/directline/conversations`), its `streamUrl` opened as a WebSocket, one message activity posted
over HTTP, and the answer read from the socket (a typing activity when the answer begins, then the
bot's message). With REDIS_URL set, the server uses the Redis channel layer as production does.

Meanwhile one more client creates plain sessions one after another, and the database's connections are
sampled from pg_stat_activity. botportal runs on PostgreSQL with `DEBUG=false` and throttles lifted.

Prints: visitors, wall time, time to the first token event (Direct Line: the first frame after posting,
the echo, and the typing activity) and to the whole answer (p50/p95, from the
visitor's arrival), answers whole, the upstream calls in flight at most, the plain session create's
latency meanwhile, and the database connections at most; then each target, met or MISSED.
"""

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load import PY, ROOT, SYNC_WORKERS, bench_env, http, recreate_database, server_label, start_server, stop_server  # noqa: E402

try:  # the client's own loop costs less CPU on uvloop (installed with uvicorn[standard])
    from uvloop import run as event_loop_run
except ImportError:
    from asyncio import run as event_loop_run

TARGETS = {  # 300 visitors, 4 s answers (40 tokens, 100 ms apart), on the 2-core development machine
    "in_flight": 270,
    "wall": 12.0,
    "plain_p50": 0.25,
    "plain_p95": 2.0,
    "connections": 50,
}


ANSWER_TIMEOUT = 120.0  # seconds a Direct Line visitor waits for its answer on the socket after posting


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def start_upstream(port: int, tokens: int, interval: float) -> subprocess.Popen:
    process = subprocess.Popen(
        [PY, str(ROOT / "bench" / "fake_upstream.py"), "--port", str(port), "--tokens", str(tokens),
         "--interval", str(interval)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    for _ in range(100):
        try:
            http("GET", f"http://127.0.0.1:{port}/stats")
            return process
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the fake upstream did not start")


def cpu_seconds(pid: int, children: bool = True) -> float:
    """CPU time used so far by a process and (unless told not to) its children, from /proc."""
    pids, total = [pid], 0.0
    while pids:
        current = pids.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            if children:
                pids += [int(c) for c in Path(f"/proc/{current}/task/{current}/children").read_text().split()]
        except (OSError, ValueError, IndexError):
            continue
    return total


def prepare(env: dict, base: str, source: Path) -> str:
    out = subprocess.run(
        [PY, "manage.py", "createapikey", "streams", "--create-user"],
        cwd=source, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    owner = {"Authorization": f"Bearer {out.stdout.strip().splitlines()[-1]}"}
    bot = {"name": "Streaming bench bot", "visibility": "public", "model": "fake/bench", "backstory": "Be brief."}
    return http("POST", f"{base}/api/v1/bot/create", bot, owner)["id"]


def directline_secret(env: dict, source: Path, bot_id: str) -> str:
    out = subprocess.run(
        [PY, "manage.py", "directlinesecret", bot_id], cwd=source, env=env, capture_output=True, text=True, check=True
    )  # fmt: skip
    return out.stdout.strip().splitlines()[-1]


class RawHttp:
    """HTTP/1.1 over one keep-alive connection, asyncio streams only: the bench's client shares the
    machine's two cores with the server, and httpx spent about 14 ms of CPU per visitor (a third of the
    server's own), so that the client's CPU, not the server's, took part of the wall time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str):
        self.reader, self.writer, self.host = reader, writer, host

    @classmethod
    async def connect(cls, base: str) -> "RawHttp":
        host, port = base.split("//", 1)[1].rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port), limit=2**20)
        return cls(reader, writer, f"{host}:{port}")

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()

    async def send(self, method: str, path: str, body: dict, headers: dict | None = None) -> tuple[int, dict]:
        """Send a request with a JSON body; returns (status, headers), the body left to `chunks`."""
        content = json.dumps(body).encode()
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}", "Content-Type: application/json"]
        lines += [f"Content-Length: {len(content)}", *(f"{k}: {v}" for k, v in (headers or {}).items())]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + content)
        head = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        fields = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            if name:
                fields[name.strip().lower()] = value.strip()
        return status, fields

    async def chunks(self, headers: dict):
        """The response body as it arrives (Content-Length or chunked)."""
        if headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
                data = await self.reader.readexactly(size + 2)
                if size == 0:
                    return
                yield data[:-2]
        else:
            length = int(headers.get("content-length", "0"))
            if length:
                yield await self.reader.readexactly(length)

    async def body(self, headers: dict) -> bytes:
        return b"".join([chunk async for chunk in self.chunks(headers)])


async def visitor(base: str, bot_id: str, arrived: float, tokens: int) -> dict:
    result = {"first": None, "whole": None, "ok": False, "error": ""}
    step = "connect"
    client = None
    try:
        client = await RawHttp.connect(base)
        step = "session create"
        status, headers = await client.send("POST", f"/api/v1/bot/{bot_id}/session/create", {})
        body = await client.body(headers)
        if status != 200:
            result["error"] = f"{step}: HTTP {status}: {body[:200]!r}"
            return result
        created = json.loads(body)
        step = "complete"
        headers = {"Authorization": f"Bearer {created['token']}", "Accept": "application/jsonl"}
        path = f"/api/v1/conversation/{created['conversationId']}/complete"
        status, headers = await client.send("POST", path, {"text": "Where is my order?"}, headers)
        if status != 200:
            result["error"] = f"HTTP {status}: {(await client.body(headers))[:200]!r}"
            return result
        text, received, pending = None, 0, b""
        async for chunk in client.chunks(headers):
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                if not line.strip():
                    continue
                event = json.loads(line)
                if event["type"] == "token":
                    received += 1
                    if result["first"] is None:
                        result["first"] = time.perf_counter() - arrived
                elif event["type"] == "result":
                    text = event["data"].get("text", "")
                elif event["type"] == "error":
                    result["error"] = f"error event: {event['data']}"
        if pending.strip():
            result["error"] = f"a line without its end: {pending[:80]!r}"
        result["whole"] = time.perf_counter() - arrived
        result["ok"] = not result["error"] and text is not None and text.split() == ["tok"] * tokens
        if not result["ok"] and not result["error"]:
            result["error"] = f"answer not whole: {received} token events, text {text!r:.80}"
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, KeyError, ValueError) as exc:
        result["error"] = f"{step}: {type(exc).__name__}: {exc}"
    finally:
        if client is not None:
            await client.close()
    return result


async def directline_visitor(base: str, secret: str, arrived: float, tokens: int) -> dict:
    """One Web Chat visitor: token, conversation, socket, one message posted, the answer from the socket."""
    result = {"first": None, "typing": None, "whole": None, "ok": False, "error": "", "steps": {}}
    step = "connect"
    client = socket = post = None
    try:
        client = await RawHttp.connect(base)
        step = "tokens/generate"
        status, headers = await client.send(
            "POST", "/v3/directline/tokens/generate", {}, {"Authorization": f"Bearer {secret}"}
        )
        body = await client.body(headers)
        if status != 200:
            result["error"] = f"{step}: HTTP {status}: {body[:200]!r}"
            return result
        token = {"Authorization": f"Bearer {json.loads(body)['token']}"}
        result["steps"]["token"] = time.perf_counter() - arrived
        step = "conversations"
        status, headers = await client.send("POST", "/v3/directline/conversations", {}, token)
        body = await client.body(headers)
        if status not in (200, 201):
            result["error"] = f"{step}: HTTP {status}: {body[:200]!r}"
            return result
        started = json.loads(body)
        result["steps"]["conversation"] = time.perf_counter() - arrived
        step = "stream"
        # No Origin header, as Node clients; no compression: the frames are small and the client's CPU counts.
        socket = await websockets.connect(started["streamUrl"], compression=None, open_timeout=300, max_size=2**22)
        result["steps"]["socket"] = time.perf_counter() - arrived
        step = "post"
        path = f"/v3/directline/conversations/{started['conversationId']}/activities"
        activity = {"type": "message", "text": "Where is my order?", "from": {"id": "visitor"}}
        post = asyncio.create_task(client.send("POST", path, activity, token))
        text = None
        step = "answer"
        # A socket the server stops serving without closing it would keep the visitor (and the run) waiting.
        deadline = time.perf_counter() + ANSWER_TIMEOUT
        while text is None:
            frame = await asyncio.wait_for(socket.recv(), timeout=max(0.0, deadline - time.perf_counter()))
            if not frame:
                continue
            # The backlog (the welcome) may still arrive after posting: only this turn's activities count.
            mine = [
                a for a in json.loads(frame).get("activities", [])
                if a.get("from", {}).get("role") == "user" or a.get("replyToId")
            ]  # fmt: skip
            if not mine:
                continue
            now = time.perf_counter()
            if result["first"] is None:
                result["first"] = now - arrived
            for item in mine:
                if item.get("type") == "typing" and result["typing"] is None:
                    result["typing"] = now - arrived
                elif item.get("type") == "message" and item.get("replyToId"):
                    text = item.get("text") or ""
        result["whole"] = time.perf_counter() - arrived
        status, headers = await post
        body = await client.body(headers)
        if status != 200:
            result["error"] = f"post: HTTP {status}: {body[:200]!r}"
        result["ok"] = not result["error"] and text.split() == ["tok"] * tokens
        if not result["ok"] and not result["error"]:
            result["error"] = f"answer not whole: text {text!r:.80}"
    except (
        OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, KeyError,
        ValueError, websockets.WebSocketException,
    ) as exc:  # fmt: skip
        result["error"] = f"{step}: {type(exc).__name__}: {exc}"
    finally:
        if post is not None and not post.done():
            post.cancel()
        if post is not None:  # its error, if any, is the one already reported (or moot)
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await post
        if socket is not None:
            await socket.close()
        if client is not None:
            await client.close()
    return result


async def plain_creates(base: str, bot_id: str, done: asyncio.Event) -> list[float]:
    """Session creates one after another (a visitor of any bot) while the streams run."""
    latencies = []
    async with httpx.AsyncClient(base_url=base, timeout=600) as client:
        while not done.is_set():
            started = time.perf_counter()
            try:
                response = await client.post(f"/api/v1/bot/{bot_id}/session/create", json={})
                failed = response.status_code != 200
            except httpx.HTTPError:
                failed = True
            latencies.append(float("inf") if failed else time.perf_counter() - started)
            await asyncio.sleep(0.05)
    return latencies


async def sample_connections(database: str, done: asyncio.Event) -> tuple[int, float]:
    """(the database's connections at most, the CPU seconds its server processes used meanwhile)."""
    peak, first_cpu, last_cpu = 0, {}, {}
    async with await psycopg.AsyncConnection.connect(
        "postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True
    ) as sampler:
        while not done.is_set():
            cursor = await sampler.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [database]
            )
            pids = [row[0] for row in await cursor.fetchall()]
            peak = max(peak, len(pids))
            for pid in pids:  # PostgreSQL runs on this machine: its backends' CPU is in /proc too
                last_cpu[pid] = cpu_seconds(pid, children=False)
                first_cpu.setdefault(pid, last_cpu[pid])
            await asyncio.sleep(0.05)
    return peak, sum(last_cpu[pid] - first_cpu[pid] for pid in last_cpu)


async def warm_up(one_visitor, processes: int) -> None:
    """A turn or two through every server process first: its first turn loads the engine (seconds)."""
    started = time.perf_counter()
    warm = await asyncio.gather(*(one_visitor(started) for _ in range(2 * processes)))
    failed = [r["error"] for r in warm if not r["ok"]]
    print(f"warm-up: {len(warm)} visitors in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    if failed:
        sys.exit(f"warm-up failed: {failed[0]}")


async def run(
    base: str, bot_id: str, visitors: int, database: str, processes: int, upstream: str, pids: dict, one_visitor
) -> dict:
    await warm_up(one_visitor, processes)
    # CPU of the measured visitors only (the warm-up loads the engine): the server's, and the bench's own
    # client and fake upstream's, which share the machine's cores with it.
    cpu_before = {name: cpu_seconds(pid, name != "client") for name, pid in pids.items()}
    http("POST", f"{upstream}/stats/reset", {})  # in flight counts the measured visitors only
    done = asyncio.Event()
    sampler = asyncio.create_task(sample_connections(database, done))
    await asyncio.sleep(0.2)
    # A connection of its own per visitor (a browser's): session create then complete on it, or Direct
    # Line's token, conversation and post on it beside the socket.
    prober = asyncio.create_task(plain_creates(base, bot_id, done))
    arrived = time.perf_counter()
    results = await asyncio.gather(*(one_visitor(arrived) for _ in range(visitors)))
    wall = time.perf_counter() - arrived
    done.set()
    plain = await prober
    cpu = {name: cpu_seconds(pid, name != "client") - cpu_before[name] for name, pid in pids.items()}
    connections, cpu["database"] = await sampler
    return {"results": results, "wall": wall, "plain": plain, "connections": connections, "cpu": cpu}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/botportal_bench")
    parser.add_argument("--server", choices=["asgi", "wsgi"], default="asgi")
    parser.add_argument(
        "--protocol",
        choices=["chatbotkit", "directline"],
        default="chatbotkit",
        help="chatbotkit: JSONL over /api/v1 complete; directline: Direct Line's WebSocket (needs asgi)",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("REDIS_URL", ""),
        help="the server's Redis (channel layer, cache) as in production; default REDIS_URL, none: no channel layer",
    )
    parser.add_argument("--workers", type=int, default=None, help="as bench/load.py")
    parser.add_argument("--port", type=int, default=8077)
    parser.add_argument("--upstream-port", type=int, default=8078)
    parser.add_argument("--visitors", type=int, default=300)
    parser.add_argument("--tokens", type=int, default=40)
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between tokens")
    parser.add_argument(
        "--source",
        type=Path,
        default=ROOT,
        help="serve botportal from this tree instead (e.g. an earlier version: `git archive REV | tar -x -C DIR`)",
    )
    args = parser.parse_args()
    if args.protocol == "directline" and args.server != "asgi":
        parser.error("Direct Line's WebSocket needs the ASGI server")

    database = args.database_url.rsplit("/", 1)[-1]
    env = bench_env(args.database_url, args.port)
    env.pop("REDIS_URL", None)
    if args.redis_url:
        env["REDIS_URL"] = args.redis_url
    # CHANNEL_LAYER_URL, when set, is the channel layer's own Redis, as in production's settings.
    redis = env.get("CHANNEL_LAYER_URL") or args.redis_url
    layer = f"Redis channel layer ({redis})" if redis else "no channel layer (the database look)"
    env.update(
        {
            "LLM_PROVIDER_NAME": "fake",
            "LLM_BASE_URL": f"http://127.0.0.1:{args.upstream_port}/v1",
            "LLM_API_KEY": "sk-fake",
            "LOG_LEVEL": "ERROR",
        }
    )
    recreate_database(args.database_url)
    subprocess.run([PY, "manage.py", "migrate", "-v0"], cwd=args.source, env=env, check=True)
    upstream = start_upstream(args.upstream_port, args.tokens, args.interval)
    server = None
    try:
        server = start_server(args.server, env, args.port, args.workers, cwd=args.source)
        base = f"http://127.0.0.1:{args.port}"
        bot_id = prepare(env, base, args.source)
        processes = args.workers or (
            SYNC_WORKERS if args.server == "wsgi" else int(os.environ.get("WEB_CONCURRENCY") or os.cpu_count() or 1)
        )
        upstream_url = f"http://127.0.0.1:{args.upstream_port}"
        pids = {"server": server.pid, "upstream": upstream.pid, "client": os.getpid()}
        if args.protocol == "directline":
            secret = directline_secret(env, args.source, bot_id)

            def one_visitor(arrived):
                return directline_visitor(base, secret, arrived, args.tokens)
        else:

            def one_visitor(arrived):
                return visitor(base, bot_id, arrived, args.tokens)

        measured = event_loop_run(
            run(base, bot_id, args.visitors, database, processes, upstream_url, pids, one_visitor)
        )
        stats = http("GET", f"{upstream_url}/stats")
    finally:
        if server is not None:
            stop_server(server)
        upstream.terminate()
        upstream.wait(timeout=10)

    results = measured["results"]
    whole = [r["whole"] for r in results if r["ok"]]
    first = [r["first"] for r in results if r["first"] is not None]
    typing = [r["typing"] for r in results if r.get("typing") is not None]
    failures = [r["error"] for r in results if not r["ok"]]
    plain = measured["plain"]
    cpu = measured["cpu"]
    answer = args.tokens * args.interval
    over = {
        "chatbotkit": "JSONL over /api/v1 complete",
        "directline": f"Direct Line over its WebSocket, {layer}",
    }[args.protocol]
    print(
        f"\nbotportal streaming benchmark: {server_label(args.server, args.workers)} serving {args.source}, "
        f"{over}, {args.visitors} visitors at "
        f"once, answers of {args.tokens} tokens {args.interval * 1000:.0f} ms apart ({answer:.1f} s)"
    )
    rows = [
        ("visitors", f"{args.visitors}"),
        ("answers whole", f"{len(whole)}"),
        ("wall time (all answered)", f"{measured['wall']:.1f} s"),
        (
            "first token, p50 / p95" if args.protocol == "chatbotkit" else "first frame after posting, p50 / p95",
            f"{percentile(first, 0.5):.2f} s / {percentile(first, 0.95):.2f} s",
        ),
        *(
            [
                (
                    "typing (answer begun), p50 / p95",
                    f"{percentile(typing, 0.5):.2f} s / {percentile(typing, 0.95):.2f} s",
                ),
                (
                    "token / conversation / socket open by, p50",
                    " / ".join(
                        f"{percentile([r['steps'][s] for r in results if s in r['steps']], 0.5):.2f} s"
                        for s in ("token", "conversation", "socket")
                    ),
                ),
            ]
            if args.protocol == "directline"
            else []
        ),
        ("whole answer, p50 / p95", f"{percentile(whole, 0.5):.2f} s / {percentile(whole, 0.95):.2f} s"),
        ("upstream calls in flight at most", f"{stats['max_in_flight']} (of {stats['requests']} calls)"),
        (
            f"plain session create meanwhile ({len(plain)}), p50 / p95 / max",
            f"{percentile(plain, 0.5):.3f} s / {percentile(plain, 0.95):.3f} s / {max(plain, default=0):.3f} s",
        ),
        ("database connections at most", f"{measured['connections']}"),
        (
            "server CPU, total / per visitor",
            f"{cpu['server']:.1f} s / {cpu['server'] / args.visitors * 1000:.1f} ms (plain creates included)",
        ),
        (
            "CPU of bench client / fake upstream / PostgreSQL",
            f"{cpu['client']:.1f} s / {cpu['upstream']:.1f} s / {cpu['database']:.1f} s",
        ),
        ("machine load average, 1 min, at the end", f"{os.getloadavg()[0]:.1f}"),
    ]
    for label, value in rows:
        print(f"  {label:<48} {value}")
    checks = [
        ("every answer whole", len(whole) == args.visitors),
        (f"upstream calls in flight >= {TARGETS['in_flight']}", stats["max_in_flight"] >= TARGETS["in_flight"]),
        (f"all done within {TARGETS['wall']:.0f} s", measured["wall"] <= TARGETS["wall"]),
        (f"plain create p50 <= {TARGETS['plain_p50']} s", percentile(plain, 0.5) <= TARGETS["plain_p50"]),
        (f"plain create p95 <= {TARGETS['plain_p95']} s", percentile(plain, 0.95) <= TARGETS["plain_p95"]),
        (f"database connections <= {TARGETS['connections']}", measured["connections"] <= TARGETS["connections"]),
    ]
    print("targets (300 visitors, 4 s answers):")
    for label, met in checks:
        print(f"  {label:<48} {'met' if met else 'MISSED'}")
    if failures:
        print(f"{len(failures)} visitors failed; first: {failures[0]}")


if __name__ == "__main__":
    main()
