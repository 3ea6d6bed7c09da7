"""A fake OpenAI-compatible streaming upstream, asyncio only (stdlib), for tests and benchmarks.

    .venv/bin/python bench/fake_upstream.py --port 8110 --tokens 40 --interval 0.1

Serves:
  POST /v1/chat/completions   SSE chunks `data: {"choices":[{"delta":{"content":...}}]}` then `data: [DONE]`
                              (or one JSON answer when the request body has "stream": false)
  GET  /stats                 {"requests", "in_flight", "max_in_flight", "completed", "by_mode"}
  POST /stats/reset           zeroes the counters

The mode, token count and interval are server defaults (CLI flags, or `start()` arguments) and can be
overridden per request with the headers `X-Fake-Mode`, `X-Fake-Tokens`, `X-Fake-Interval`, or by the
model name `fake-<mode>` (so a bot definition alone can choose a failure). Modes:
  ok        stream every token and [DONE]
  hang      send the response headers, then nothing until the client gives up
  hang-headers  accept the connection and never answer, not even headers
  error     answer HTTP 500 with an OpenAI-style error body
  early-end stream half the tokens, then close the connection without [DONE]
  redirect  answer 307 to another host (a client must not follow it)

From Python (a pytest fixture, a benchmark):
    server = start(tokens=3, interval=0.0)        # runs in a daemon thread, returns at once
    server.url                                     # "http://127.0.0.1:PORT/v1"
    server.stats()                                 # the same dict as GET /stats
    server.on_request = callback                   # called (in the server thread) with the parsed
                                                   # request {"headers", "body"} before answering
    server.stop()
"""

import argparse
import asyncio
import contextlib
import json
import threading
from dataclasses import dataclass, field

MODES = ("ok", "hang", "hang-headers", "error", "early-end", "redirect")


@dataclass
class Config:
    tokens: int = 20
    interval: float = 0.05
    mode: str = "ok"
    token_text: str = "tok "


@dataclass
class Stats:
    requests: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    completed: int = 0
    by_mode: dict = field(default_factory=dict)
    authorizations: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "requests": self.requests,
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "completed": self.completed,
            "by_mode": dict(self.by_mode),
        }


class FakeUpstream:
    def __init__(self, config: Config):
        self.config = config
        self.counters = Stats()
        self.on_request = None
        self.host = "127.0.0.1"
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def stats(self) -> dict:
        return self.counters.as_dict()

    def reset(self) -> None:
        self.counters = Stats()

    async def serve(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = await asyncio.start_server(self._handle, host, port, backlog=4096, limit=2**20)
        self.host, self.port = self._server.sockets[0].getsockname()[:2]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await self._one_request(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _one_request(self, reader, writer) -> bool:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0") or 0))

        if method == "GET" and path == "/stats":
            await self._send_json(writer, 200, self.stats())
            return True
        if method == "POST" and path == "/stats/reset":
            self.reset()
            await self._send_json(writer, 200, {})
            return True
        if method != "POST" or not path.endswith("/chat/completions"):
            await self._send_json(writer, 404, {"error": {"message": "not found"}})
            return True

        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            payload = {}
        model = str(payload.get("model", ""))
        mode = headers.get("x-fake-mode") or (model[5:] if model.startswith("fake-") else "") or self.config.mode
        if mode not in MODES:
            mode = self.config.mode
        tokens = int(headers.get("x-fake-tokens", self.config.tokens))
        interval = float(headers.get("x-fake-interval", self.config.interval))

        c = self.counters
        c.requests += 1
        c.by_mode[mode] = c.by_mode.get(mode, 0) + 1
        c.authorizations.append(headers.get("authorization", ""))
        c.in_flight += 1
        c.max_in_flight = max(c.max_in_flight, c.in_flight)
        try:
            if self.on_request is not None:
                self.on_request({"headers": headers, "body": payload})
            return await self._answer(writer, mode, tokens, interval, payload.get("stream", False))
        finally:
            c.in_flight -= 1

    async def _answer(self, writer, mode, tokens, interval, stream) -> bool:
        if mode == "hang-headers":
            await asyncio.Event().wait()
        if mode == "error":
            await self._send_json(writer, 500, {"error": {"message": "upstream failed", "type": "server_error"}})
            return True
        if mode == "redirect":
            writer.write(b"HTTP/1.1 307 Temporary Redirect\r\nLocation: http://169.254.169.254/v1/chat/completions"
                         b"\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            return True
        text = self.config.token_text
        if not stream:
            if interval:
                await asyncio.sleep(interval * tokens)
            answer = {"choices": [{"index": 0, "message": {"role": "assistant", "content": text * tokens}}]}
            await self._send_json(writer, 200, answer)
            self.counters.completed += 1
            return True

        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
                     b"Connection: close\r\n\r\n")
        await writer.drain()
        if mode == "hang":
            await asyncio.Event().wait()
        count = tokens // 2 if mode == "early-end" else tokens
        for _ in range(count):
            if interval:
                await asyncio.sleep(interval)
            chunk = {"choices": [{"index": 0, "delta": {"content": text}}]}
            writer.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
            await writer.drain()
        if mode == "early-end":
            return False
        writer.write(b"data: [DONE]\n\n")
        await writer.drain()
        self.counters.completed += 1
        return False

    @staticmethod
    async def _send_json(writer, status: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        reason = {200: "OK", 404: "Not Found", 500: "Internal Server Error"}.get(status, "Status")
        writer.write(f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        await writer.drain()

    def start_in_thread(self, host: str = "127.0.0.1", port: int = 0) -> "FakeUpstream":
        ready = threading.Event()

        def run():
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self.serve(host, port))
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="fake-upstream", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is None:
            return

        async def shutdown():
            self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop = None


def start(*, tokens: int = 20, interval: float = 0.05, mode: str = "ok", host: str = "127.0.0.1",
          port: int = 0) -> FakeUpstream:
    """Start a fake upstream in a daemon thread; returns it with .host, .port, .url, .stats(), .stop()."""
    return FakeUpstream(Config(tokens=tokens, interval=interval, mode=mode)).start_in_thread(host, port)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8110)
    parser.add_argument("--tokens", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between tokens")
    parser.add_argument("--mode", choices=MODES, default="ok")
    args = parser.parse_args()
    upstream = FakeUpstream(Config(tokens=args.tokens, interval=args.interval, mode=args.mode))

    async def run():
        await upstream.serve(args.host, args.port)
        print(f"fake upstream on {upstream.url} ({args.tokens} tokens, {args.interval}s apart, mode {args.mode})",
              flush=True)
        await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


if __name__ == "__main__":
    main()
