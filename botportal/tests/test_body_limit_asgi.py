"""botportal.asgi.OversizedBodyWithheld: what Django's ASGI handler is given of a body over the limit,
declared or not (chunked), and what it answers then."""

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings

from botportal.asgi import OversizedBodyWithheld
from botportal.middleware import BODY_CUT_OFF

LIMIT = 1000


def _run(coroutine):
    # asyncio.run on a thread of its own: the browser tests keep an event loop running on the main thread.
    with ThreadPoolExecutor(1) as executor:
        return executor.submit(asyncio.run, coroutine).result()


def _scope(path="/api/v1/bot/create", length=None):
    headers = [(b"host", b"127.0.0.1"), (b"content-type", b"application/json")]
    if length is not None:
        headers.append((b"content-length", str(length).encode()))
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "headers": headers,
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80),
    }  # fmt: skip


def _client(chunks: list[bytes]):
    """The server's `receive` for a body sent in `chunks`, counting the calls; then a disconnect."""
    calls = []

    async def receive():
        calls.append(len(calls))
        if len(calls) <= len(chunks):
            return {"type": "http.request", "body": chunks[len(calls) - 1], "more_body": len(calls) < len(chunks)}
        return {"type": "http.disconnect"}

    return receive, calls


def _body_as_django_reads_it(scope, receive) -> tuple[bytes, dict]:
    seen = {}

    async def app(inner_scope, inner_receive, send):
        body = b""
        while True:
            message = await inner_receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        seen.update(body=body, scope=inner_scope)

    _run(OversizedBodyWithheld(app, LIMIT)(scope, receive, None))
    return seen["body"], seen["scope"]


def test_a_chunked_body_within_the_limit_reaches_django_whole():
    receive, _ = _client([b"a" * 600, b"b" * 400])
    body, scope = _body_as_django_reads_it(_scope(), receive)
    assert body == b"a" * 600 + b"b" * 400 and BODY_CUT_OFF not in scope


def test_a_chunked_body_over_the_limit_is_cut_off_where_it_passes_the_limit():
    receive, calls = _client([b"a" * 600, b"b" * 600, b"c" * 600, b"d" * 600])
    body, scope = _body_as_django_reads_it(_scope(), receive)
    # Nothing past the chunk that crossed the limit is read; the request is marked, the server's own
    # scope untouched.
    assert len(calls) == 2 and scope[BODY_CUT_OFF] == 1200 and len(body) == 600


def test_a_body_declared_over_the_limit_is_not_read_at_all():
    receive, calls = _client([b"a" * 1200])
    body, scope = _body_as_django_reads_it(_scope(length=1200), receive)
    assert body == b"" and calls == [] and BODY_CUT_OFF not in scope


def _served(path: str, chunks: list[bytes]) -> tuple[int, bytes]:
    """The whole botportal.asgi application serving a chunked request: (status, body)."""
    from botportal.asgi import application

    receive, _ = _client(chunks)
    sent = []

    async def send(message):
        sent.append(message)

    _run(application(_scope(path), receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


@pytest.mark.django_db
def test_each_protocol_refuses_a_chunked_body_over_the_limit_as_it_refuses_a_declared_one():
    # As botportal/tests/test_protocol_errors.py has them for a declared length.
    limit = settings.BOTPORTAL["MAX_BODY_BYTES"]
    status, body = _served("/api/v1/bot/create", [b"x" * (limit // 2)] * 3)
    assert status == 413
    message = f"The request body is over the limit of {limit} bytes."
    assert json.loads(body) == {"message": message, "code": "BAD_REQUEST"}
    status, body = _served("/v5.0.0/bots/x/sessions", [b"x" * (limit // 2)] * 3)
    assert status == 400 and json.loads(body)["error"] == "BadRequestError"


@pytest.mark.django_db
def test_off_the_api_a_chunked_body_over_the_limit_is_refused_as_django_refuses_a_declared_one():
    limit = settings.BOTPORTAL["MAX_BODY_BYTES"]
    status, _ = _served("/admin/login/", [b"x" * (limit // 2)] * 3)
    assert status == 400
