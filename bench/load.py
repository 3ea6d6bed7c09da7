"""HTTP load benchmark: botportal under gunicorn on PostgreSQL, measured with wrk, in one run.

    make bench                       # or: .venv/bin/python bench/load.py --duration 10 --rounds 3
    .venv/bin/python bench/load.py --server wsgi,asgi    # both servers, interleaved, in one run
    .venv/bin/python bench/load.py --baseline /tmp/main  # this tree and another (git worktree or git
                                                         # archive of the code before a change), side by side

Servers: `asgi` is production's (gunicorn with uvicorn's worker, settings from gunicorn.conf.py);
`wsgi` is botportal/wsgi.py under gunicorn's sync workers (2 x cores + 1), the earlier deployment.

Routes, each measured in interleaved rounds (the host's speed drifts, so compare ratios in one run):
  ceiling   GET  /api/health                                a bare DRF view returning constant JSON
  session   POST /api/v1/bot/{id}/session/create            public bot, no credentials
  complete  POST /api/v1/conversation/{id}/complete         session token, rotating over many conversations
  list      GET  /api/v1/conversation/{id}/message/list     session token, 50 messages
  einstein  POST /v5.0.0/sessions/{id}/messages             API secret, increasing sequenceId per session
  dl-token  POST /v3/directline/tokens/generate             Direct Line secret: a new conversation and its token
  dl-poll   GET  /v3/directline/conversations/{id}/activities  Direct Line token, polling after a watermark
  dl-send   POST /v3/directline/conversations/{id}/activities  Direct Line token, rotating over many conversations
  dl-ws     a Direct Line turn over the WebSocket: as many conversations as wrk's connections, each posting a
            message over HTTP and waiting for the bot's reply on its own streamUrl socket, then the next
            (wrk speaks no WebSocket: an asyncio client in this process, which shares the cores with the
            server, unlike wrk; turns/s in the req/s column, latency from the post to the reply's frame)

Prints requests/s, p50 and p99 latency, errors, and each route's ratio to the ceiling (median of rounds).
"""

import argparse
import asyncio
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
TARGETS = {"session": 0.18, "complete": 0.12, "list": 0.25, "einstein": 0.10}


def bench_env(database_url: str, port: int) -> dict:
    unlimited = "100000000/second"
    return {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "WARNING",
        "BOTPORTAL_THROTTLE_SESSION_CREATE_IP": unlimited,
        "BOTPORTAL_THROTTLE_SESSION_CREATE_BOT": unlimited,
        "BOTPORTAL_THROTTLE_SESSION_TOKEN": unlimited,
        "BOTPORTAL_THROTTLE_API_SECRET": unlimited,
        "BOTPORTAL_THROTTLE_FAILED_AUTH": unlimited,
        "BOTPORTAL_THROTTLE_DIRECTLINE_POLL": unlimited,
        "BOTPORTAL_THROTTLE_DIRECTLINE_SIGNAL": unlimited,
        "BOTPORTAL_VAR_DIR": tempfile.mkdtemp(prefix="botportal-bench-"),
    }


def recreate_database(database_url: str) -> None:
    """Drop and create the benchmark's database; only a database named botportal_bench... is touched."""
    import psycopg

    name = database_url.rsplit("/", 1)[-1]
    if not re.fullmatch(r"botportal_bench\w*", name):
        return
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {name}")


SYNC_WORKERS = 2 * (os.cpu_count() or 1) + 1


def start_server(server: str, env: dict, port: int, workers: int | None = None, cwd: Path = ROOT) -> subprocess.Popen:
    """gunicorn serving botportal from `cwd`: `asgi` as gunicorn.conf.py says, `wsgi` with sync workers."""
    gunicorn = str(Path(PY).parent / "gunicorn")
    common = ["--bind", f"127.0.0.1:{port}", "--log-level", "warning", "--no-control-socket"]
    # A process's first turn loads the engine's classifier (scikit-learn), which took over 30 s on a busy
    # machine: gunicorn's worker timeout must not kill it meanwhile.
    common += ["--timeout", "120"]
    if server == "asgi":
        args = [gunicorn, "botportal.asgi:application", *common]
        if workers:  # as production sets it: gunicorn.conf.py and each worker's pool size read it
            env = {**env, "WEB_CONCURRENCY": str(workers)}
    elif server == "wsgi":
        args = [gunicorn, "botportal.wsgi", *common, "--worker-class", "sync"]
        args += ["--workers", str(workers or SYNC_WORKERS)]
    else:
        raise ValueError(server)
    process = subprocess.Popen(args, cwd=cwd, env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            http("GET", f"{base}/api/health")
            return process
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"{server} server exited with {process.returncode}") from None
            time.sleep(0.5)
    raise RuntimeError(f"{server} server did not answer")


def stop_server(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=60)


def server_label(server: str, workers: int | None) -> str:
    if server == "wsgi":
        return f"gunicorn sync x{workers or SYNC_WORKERS}"
    return f"gunicorn+uvicorn x{workers or os.environ.get('WEB_CONCURRENCY') or os.cpu_count() or 1}"


def http(method: str, url: str, body=None, headers=None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    for key, value in (headers or {}).items():
        request.add_header(key, value)
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (loopback only)
        return json.loads(response.read() or b"{}")


def prepare(env: dict, base: str, sessions: int, ws_conversations: int) -> dict:
    """Owner, public bot, conversations and tokens, made through the API itself."""
    out = subprocess.run(
        [PY, "manage.py", "createapikey", f"bench{secrets.token_hex(4)}", "--create-user"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    secret = out.stdout.strip().splitlines()[-1]
    owner = {"Authorization": f"Bearer {secret}"}
    bot_id = http("POST", f"{base}/api/v1/bot/create", {"name": "Bench bot", "visibility": "public"}, owner)["id"]
    org_id = http("GET", f"{base}/api/v1/bot/{bot_id}/fetch", headers=owner).get("orgId", "")

    complete = [http("POST", f"{base}/api/v1/bot/{bot_id}/session/create", {}) for _ in range(sessions)]
    listed = http("POST", f"{base}/api/v1/bot/{bot_id}/session/create", {})
    bearer = {"Authorization": f"Bearer {listed['token']}"}
    for index in range(25):  # 25 turns: 50 messages
        http("POST", f"{base}/api/v1/conversation/{listed['conversationId']}/complete", {"text": f"q{index}"}, bearer)

    einstein = []
    headers = {**owner, "X-Org-Id": org_id}
    for index in range(sessions):
        begun = http(
            "POST",
            f"{base}/v5.0.0/bots/{bot_id}/sessions",
            {"forceConfig": {"endpoint": base}, "externalSessionKey": f"bench-{index}"},
            headers,
        )
        einstein.append(begun["sessionId"])

    out = subprocess.run(
        [PY, "manage.py", "directlinesecret", bot_id], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    dl_secret = {"Authorization": f"Bearer {out.stdout.strip().splitlines()[-1]}"}
    directline = [http("POST", f"{base}/v3/directline/tokens/generate", {}, dl_secret) for _ in range(sessions)]
    polled = http("POST", f"{base}/v3/directline/tokens/generate", {}, dl_secret)
    polled_bearer = {"Authorization": f"Bearer {polled['token']}"}
    for index in range(5):  # a conversation with a few turns, polled after its first message
        http("POST", f"{base}/v3/directline/conversations/{polled['conversationId']}/activities",
             {"type": "message", "text": f"q{index}", "from": {"id": "bench"}}, polled_bearer)
    websocket = [http("POST", f"{base}/v3/directline/tokens/generate", {}, dl_secret) for _ in range(ws_conversations)]
    polled_watermark = http(
        "GET", f"{base}/v3/directline/conversations/{polled['conversationId']}/activities", headers=polled_bearer
    )["watermark"]
    return {
        "bot_id": bot_id,
        "secret": secret,
        "org_id": org_id,
        "complete": [(item["conversationId"], item["token"]) for item in complete],
        "list": (listed["conversationId"], listed["token"]),
        "einstein": einstein,
        "directline": [(item["conversationId"], item["token"]) for item in directline],
        "dl-poll": (polled["conversationId"], polled["token"], polled_watermark),
        "dl-ws": [(item["conversationId"], item["token"]) for item in websocket],
        "dl-secret": dl_secret["Authorization"],
    }


def lua_rotating(requests: list[tuple[str, str, dict, str]], per_thread: bool = False) -> str:
    """A wrk script cycling through (method, path, headers, body) requests; with `per_thread`, each
    of the two threads gets its own half, and `SEQ` in a body becomes an increasing number."""

    def lua_item(method, path, headers, body):
        lua_headers = ", ".join(f"[{json.dumps(k)}]={json.dumps(v)}" for k, v in headers.items())
        return f"{{{json.dumps(method)}, {json.dumps(path)}, {{{lua_headers}}}, {json.dumps(body)}}}"

    items = ",\n".join(lua_item(*request) for request in requests)
    return f"""
local items = {{ {items} }}
local counter = 0
local threads = 0
function setup(thread) thread:set("index", threads); threads = threads + 1 end
-- Each round starts above the last one's numbers, so a sequenceId keeps increasing across rounds.
function init(args) counter = (os.time() % 100000) * 10000 end
request = function()
  counter = counter + 1
  local n = #items
  local offset = 0
  if {str(per_thread).lower()} then n = math.floor(#items / 2); offset = index * n end
  local item = items[offset + (counter % n) + 1]
  local body = string.gsub(item[4], "SEQ", string.format("%d", counter))
  return wrk.format(item[1], item[2], item[3], body)
end
"""


def run_wrk(base: str, script: str, duration: int, connections: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    result = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "-s", handle.name, base],
        capture_output=True,
        text=True,
        check=True,
    )
    os.unlink(handle.name)
    text = result.stdout

    def latency(label):
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)", text, re.M)
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    errors = 0
    match = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errors += int(match.group(1)) if match else 0
    match = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    errors += sum(int(g) for g in match.groups()) if match else 0
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)),
        "p50": latency(50),
        "p99": latency(99),
        "errors": errors,
    }


async def _websocket_turns(base: str, streams: list[tuple[str, str, str]], duration: int, watermarks: dict) -> dict:
    """Turns for `duration` s, one conversation per (id, token, streamUrl), each turn posted over HTTP
    and finished when the bot's reply (an activity replying to the posted id) arrives on the socket."""
    import websockets
    from streams import RawHttp  # bench/streams.py imports this module: imported when used

    latencies, errors = [], 0
    opened = await asyncio.gather(
        *(websockets.connect(url, compression=None, open_timeout=60, max_size=2**24) for _, _, url in streams)
    )
    clients = await asyncio.gather(*(RawHttp.connect(base) for _ in streams))

    async def read(socket, conversation_id, replied: set, arrived: asyncio.Event):
        with contextlib.suppress(websockets.ConnectionClosed):
            async for frame in socket:
                if not frame:
                    continue
                data = json.loads(frame)
                if data.get("watermark"):
                    watermarks[conversation_id] = data["watermark"]
                for activity in data.get("activities", []):
                    if activity.get("replyToId") and activity.get("from", {}).get("role") == "bot":
                        replied.add(activity["replyToId"])
                arrived.set()

    async def converse(client, socket, conversation_id, token, deadline):
        nonlocal errors
        replied, arrived = set(), asyncio.Event()
        reader = asyncio.create_task(read(socket, conversation_id, replied, arrived))
        path = f"/v3/directline/conversations/{conversation_id}/activities"
        headers = {"Authorization": f"Bearer {token}"}
        activity = {"type": "message", "text": "Where is my order?", "from": {"id": "bench"}}
        try:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    status, response = await client.send("POST", path, activity, headers)
                    body = await client.body(response)
                    if status != 200:
                        errors += 1
                        continue
                    posted = json.loads(body)["id"]
                    while posted not in replied:
                        arrived.clear()
                        await asyncio.wait_for(arrived.wait(), timeout=30)
                except (OSError, TimeoutError, ValueError, KeyError, asyncio.IncompleteReadError):
                    errors += 1
                    return
                if time.perf_counter() <= deadline:
                    latencies.append(time.perf_counter() - started)
        finally:
            reader.cancel()

    deadline = time.perf_counter() + duration
    try:
        await asyncio.gather(
            *(
                converse(client, socket, conversation_id, token, deadline)
                for client, socket, (conversation_id, token, _) in zip(clients, opened, streams, strict=True)
            )
        )
    finally:
        for socket in opened:
            await socket.close()
        for client in clients:
            await client.close()
    latencies.sort()

    def latency(fraction):
        return latencies[min(len(latencies) - 1, round(fraction * (len(latencies) - 1)))] * 1000 if latencies else 0.0

    return {"rps": len(latencies) / duration, "p50": latency(0.5), "p99": latency(0.99), "errors": errors}


def run_websocket_turns(base: str, conversations: list[tuple[str, str]], duration: int, watermarks: dict) -> dict:
    """One measurement of `dl-ws`: fresh stream URLs first (their credential lasts a minute), each after
    the watermark its conversation's socket reached last time (no replayed backlog)."""
    streams = []
    for conversation_id, token in conversations:
        watermark = watermarks.get(conversation_id)
        query = f"?watermark={watermark}" if watermark else ""
        bearer = {"Authorization": f"Bearer {token}"}
        started = http("GET", f"{base}/v3/directline/conversations/{conversation_id}{query}", headers=bearer)
        streams.append((conversation_id, token, started["streamUrl"]))
    try:  # the client's own loop costs less CPU on uvloop (installed with uvicorn[standard])
        from uvloop import run as event_loop_run
    except ImportError:
        event_loop_run = asyncio.run
    return event_loop_run(_websocket_turns(base, streams, duration, watermarks))


def scripts_for(data: dict) -> dict:
    json_headers = {"Content-Type": "application/json"}
    bot_id = data["bot_id"]
    list_cid, list_token = data["list"]
    return {
        "ceiling": lua_rotating([("GET", "/api/health", {}, "")]),
        "session": lua_rotating([("POST", f"/api/v1/bot/{bot_id}/session/create", json_headers, "{}")]),
        "complete": lua_rotating(
            [
                (
                    "POST",
                    f"/api/v1/conversation/{cid}/complete",
                    {**json_headers, "Authorization": f"Bearer {tok}"},
                    json.dumps({"text": "Where is my order?"}),
                )
                for cid, tok in data["complete"]
            ]
        ),
        "list": lua_rotating(
            [
                (
                    "GET",
                    f"/api/v1/conversation/{list_cid}/message/list?take=50",
                    {"Authorization": f"Bearer {list_token}"},
                    "",
                )
            ]
        ),
        "einstein": lua_rotating(
            [
                (
                    "POST",
                    f"/v5.0.0/sessions/{sid}/messages",
                    {**json_headers, "Authorization": f"Bearer {data['secret']}", "X-Org-Id": data["org_id"]},
                    '{"message": {"type": "text", "sequenceId": SEQ, "text": "Where is my order?"}}',
                )
                for sid in data["einstein"]
            ],
            per_thread=True,
        ),
        # What a site's back end does for each Web Chat visitor: its secret traded for a new conversation.
        "dl-token": lua_rotating(
            [
                (
                    "POST",
                    "/v3/directline/tokens/generate",
                    {**json_headers, "Authorization": data["dl-secret"]},
                    "{}",
                )
            ]
        ),
        # What directlinejs does once a second per client: mostly nothing new after its watermark.
        "dl-poll": lua_rotating(
            [
                (
                    "GET",
                    f"/v3/directline/conversations/{data['dl-poll'][0]}/activities?watermark={data['dl-poll'][2]}",
                    {"Authorization": f"Bearer {data['dl-poll'][1]}"},
                    "",
                )
            ]
        ),
        "dl-send": lua_rotating(
            [
                (
                    "POST",
                    f"/v3/directline/conversations/{cid}/activities",
                    {**json_headers, "Authorization": f"Bearer {tok}"},
                    json.dumps({"type": "message", "text": "Where is my order?", "from": {"id": "bench"}}),
                )
                for cid, tok in data["directline"]
            ]
        ),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/botportal_bench")
    parser.add_argument("--port", type=int, default=8077, help="the first server's port; the next one gets +1")
    parser.add_argument(
        "--server",
        default="asgi",
        help="asgi, wsgi, or both (wsgi,asgi): each measured against its own ceiling, rounds interleaved",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes (default: asgi, WEB_CONCURRENCY or one per core; wsgi, gunicorn's 2 x cores + 1)",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        default=None,
        help="another source tree (same migrations) served the same way beside this one, in the same rounds",
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per route per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--sessions", type=int, default=128, help="conversations the token routes rotate over")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install wrk")
    # Each entry: (label, server kind, source tree). A baseline tree runs each server kind a second time.
    servers = [(server, server, ROOT) for server in args.server.split(",")]
    if args.baseline is not None:
        servers += [(f"{server}@baseline", server, args.baseline.resolve()) for server in args.server.split(",")]

    env = bench_env(args.database_url, args.port)
    redis = env.get("CHANNEL_LAYER_URL") or env.get("REDIS_URL")
    layer = f"Redis channel layer ({redis})" if redis else "no channel layer (the database look)"
    recreate_database(args.database_url)
    subprocess.run([PY, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    bases = {label: f"http://127.0.0.1:{args.port + index}" for index, (label, _, _) in enumerate(servers)}
    processes = {}
    try:
        for index, (label, server, source) in enumerate(servers):
            processes[label] = start_server(server, env, args.port + index, args.workers, cwd=source)
        # One set of rows serves every server: they share the database.
        data = prepare(env, bases[servers[0][0]], args.sessions, args.connections)
        scripts = scripts_for(data)
        labels = [label for label, _, _ in servers]
        results = {label: {name: [] for name in [*scripts, "dl-ws"]} for label in labels}
        watermarks = {}
        for round_number in range(args.rounds):
            for name, script in scripts.items():
                for label in labels:
                    results[label][name].append(run_wrk(bases[label], script, args.duration, args.connections))
            for label, server, _ in servers:
                if server == "asgi":  # a WSGI server serves no WebSocket
                    results[label]["dl-ws"].append(
                        run_websocket_turns(bases[label], data["dl-ws"], args.duration, watermarks)
                    )
            print(f"round {round_number + 1}/{args.rounds} done", file=sys.stderr)
    finally:
        for process in processes.values():
            stop_server(process)

    medians = {}
    for label, server, source in servers:
        runs_by_route = results[label]
        ceiling = statistics.median(r["rps"] for r in runs_by_route["ceiling"])
        print(
            f"\nbotportal load benchmark: {server_label(server, args.workers)} serving {source}, "
            f"wrk -t2 -c{args.connections} "
            f"-d{args.duration}s, {args.rounds} interleaved rounds, medians; dl-ws: {args.connections} "
            f"conversations, {layer}"
        )
        print(f"{'route':<10} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'ratio':>6} {'target':>7}")
        for name, runs in runs_by_route.items():
            if not runs:
                print(f"{name:<10} {'n/a: WebSockets need the ASGI server':>40}")
                continue
            rps = statistics.median(r["rps"] for r in runs)
            medians[label, name] = rps
            ratio = rps / ceiling
            target = TARGETS.get(name)
            verdict = "" if target is None else (f">={target:.2f} " + ("ok" if ratio >= target else "MISSED"))
            print(
                f"{name:<10} {rps:>9.0f} {statistics.median(r['p50'] for r in runs):>8.1f} "
                f"{statistics.median(r['p99'] for r in runs):>8.1f} {sum(r['errors'] for r in runs):>7} "
                f"{ratio:>6.2f} {verdict:>7}"
            )
    if len(servers) > 1:
        first, *others = labels
        for other in others:
            print(f"\n{other} req/s against {first}, same route, same run:")
            for name in results[first]:
                if (other, name) in medians and (first, name) in medians:
                    print(f"{name:<10} {medians[other, name] / medians[first, name]:>6.2f}")


if __name__ == "__main__":
    main()
