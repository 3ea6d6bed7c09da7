"""botportal under the servers it is deployed with, started for real: gunicorn with uvicorn's worker from
gunicorn.conf.py (as production runs it), and gunicorn's WSGI workers on botportal/wsgi.py.

Each server runs with DEBUG=false on a fresh SQLite file and collected static files.
"""

import http.client
import json
import os
import secrets
import socket
import sqlite3
import struct
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.conf import settings

from botportal.middleware import DRAIN_MAX_BYTES
from tests.live import free_port, wait_until_healthy

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = str(Path(sys.executable).parent / "gunicorn")
LIMIT = settings.BOTPORTAL["MAX_BODY_BYTES"]

pytestmark = pytest.mark.live
ADMIN_PASSWORD = secrets.token_urlsafe(16)

SERVERS = {
    # Everything else from gunicorn.conf.py, as `gunicorn botportal.asgi:application` runs in production.
    "asgi": ["botportal.asgi:application", "--workers", "1"],
    "wsgi-sync": ["botportal.wsgi", "--worker-class", "sync", "--workers", "1"],
    "wsgi-gthread": ["botportal.wsgi", "--worker-class", "gthread", "--workers", "1", "--threads", "2"],
}


@pytest.fixture(scope="module")
def upstream():
    """bench/fake_upstream.py, the servers' language model (provider "fake")."""
    from bench.fake_upstream import start

    server = start(tokens=3, interval=0.0)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def server_env(tmp_path_factory, upstream):
    var = tmp_path_factory.mktemp("servers")
    dropped = {"DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE", "DJANGO_SETTINGS_MODULE", "WEB_CONCURRENCY"}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(
        {
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "false",
            "BOTPORTAL_VAR_DIR": str(var),
            "STATIC_ROOT": str(var / "static"),
            "LOG_LEVEL": "ERROR",
            "BOTPORTAL_LLM_PROVIDERS": json.dumps({"fake": {"base_url": upstream.url, "api_key": "sk-fake"}}),
            # Many requests from one address are the point of some tests here, not abuse.
            **dict.fromkeys(
                ("BOTPORTAL_THROTTLE_SESSION_CREATE_IP", "BOTPORTAL_THROTTLE_SESSION_TOKEN"), "100000/minute"
            ),
        }
    )
    for command in (["migrate", "-v0"], ["collectstatic", "--noinput", "-v0"]):
        subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True, timeout=120)  # noqa: S603
    subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "createsuperuser", "--noinput", "--username", "admin", "--email", "a@x.org"],
        cwd=ROOT, env={**env, "DJANGO_SUPERUSER_PASSWORD": ADMIN_PASSWORD}, check=True, timeout=120,
    )  # fmt: skip
    created = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "shell", "-c", PUBLIC_BOT_CREATE],
        cwd=ROOT, env=env, check=True, timeout=120, capture_output=True, text=True,
    )  # fmt: skip
    env["PUBLIC_BOT_ID"], env["LLM_BOT_ID"] = created.stdout.strip().splitlines()[-1].split()
    return env


PUBLIC_BOT_CREATE = """
from bots.models import Bot
from sessions_app.services.owners import bot_owner_create
owner = bot_owner_create(username="bots", password="correct horse battery staple")
public = Bot.objects.create(owner=owner, name="Public", visibility="public", fallback_message="fallback")
llm = Bot.objects.create(owner=owner, name="LLM", visibility="public", fallback_message="-", model="fake/any")
print(public.pk, llm.pk)
"""

# What each server wrote to its stderr (its error log), by port.
LOGS: dict[int, Path] = {}


@pytest.fixture(scope="module", params=list(SERVERS))
def server(request, server_env):
    """(name, port) of a running server, one of SERVERS."""
    port = free_port()
    args = [GUNICORN, *SERVERS[request.param], "--bind", f"127.0.0.1:{port}", "--no-control-socket"]
    LOGS[port] = Path(server_env["BOTPORTAL_VAR_DIR"]) / f"{request.param}-{port}.log"
    with LOGS[port].open("w") as log:
        process = subprocess.Popen(args, cwd=ROOT, env=server_env, stderr=log, text=True)  # noqa: S603
    try:
        wait_until_healthy(process, port, LOGS[port].read_text)
        yield request.param, port
    finally:
        process.terminate()
        process.wait(timeout=40)


def test_the_asgi_server_is_uvicorns_worker(server):
    name, port = server
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/api/health")
    response = connection.getresponse()
    assert response.status == 200 and response.read() == b'{"status":"ok"}'
    assert response.getheader("Server") == ("uvicorn" if name == "asgi" else "gunicorn")


@pytest.mark.parametrize("path", ["/static/botportal/widget.js", "ADMIN_CSS"])
def test_static_files_are_served(server, path):
    _, port = server
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    if path == "ADMIN_CSS":
        connection.request("GET", "/admin/login/")
        page = connection.getresponse().read().decode()
        start = page.index("/static/admin/css/base.")
        path = page[start : page.index('"', start)]
    connection.request("GET", path)
    response = connection.getresponse()
    body = response.read()
    assert response.status == 200, path
    assert len(body) > 1000
    assert response.getheader("Content-Type").startswith("text/css" if path.endswith(".css") else "text/javascript")


def _cookies(response) -> dict:
    jar = {}
    for name, value in response.getheaders():
        if name.lower() == "set-cookie":
            key, _, rest = value.partition("=")
            jar[key] = rest.split(";", 1)[0]
    return jar


def test_the_admin_logs_in_and_the_api_sets_no_cookie(server):
    # The session, CSRF, user and messages middleware serve the admin on every server, the API steps
    # past the browser's ones (botportal/middleware.py).
    _, port = server
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/admin/login/")
    page = connection.getresponse()
    body, cookies = page.read().decode(), _cookies(page)
    start = body.index('name="csrfmiddlewaretoken" value="') + len('name="csrfmiddlewaretoken" value="')
    token = body[start : body.index('"', start)]
    form = f"csrfmiddlewaretoken={token}&username=admin&password={ADMIN_PASSWORD}"
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Cookie": f"csrftoken={cookies['csrftoken']}",
        "Referer": f"http://127.0.0.1:{port}/admin/login/",
    }
    connection.request("POST", "/admin/login/?next=/admin/", body=form, headers=headers)
    login = connection.getresponse()
    login.read()
    assert login.status == 302, login.status
    session = _cookies(login)["sessionid"]

    connection.request("GET", "/admin/", headers={"Cookie": f"sessionid={session}"})
    index = connection.getresponse()
    assert index.status == 200 and "Log out" in index.read().decode()

    # Without the CSRF token the admin's form is refused.
    connection.request("POST", "/admin/login/", body="username=admin&password=x", headers=headers)
    refused = connection.getresponse()
    refused.read()
    assert refused.status == 403

    connection.request("GET", "/api/v1/bot/list", headers={"Cookie": f"sessionid={session}"})
    api = connection.getresponse()
    api.read()
    assert api.status == 401  # a session cookie authenticates nobody on the API
    assert api.getheader("Set-Cookie") is None and api.getheader("Vary", "").lower().find("cookie") == -1


@pytest.mark.parametrize("size", [LIMIT + 1, 6 * 1024 * 1024])
def test_a_refused_oversized_body_leaves_the_connection_usable_or_says_close(server, size):
    _refused_then_health(server, size)


# Past DRAIN_MAX_BYTES a WSGI worker stops reading and closes, and a client still sending its body sees
# the connection go; under ASGI the server discards any amount and the connection stays.
@pytest.mark.parametrize("server", ["asgi"], indirect=True)
def test_under_asgi_a_body_of_any_size_is_refused_unread_on_a_usable_connection(server):
    _refused_then_health(server, DRAIN_MAX_BYTES + 4 * 1024 * 1024)


def _refused_then_health(server, size):
    name, port = server
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("POST", "/api/v1/bot/create", body=b"x" * size, headers={"Content-Type": "application/json"})
    refused = connection.getresponse()
    assert refused.status == 413
    assert str(size) in refused.read().decode()
    told_close = refused.getheader("Connection", "").lower() == "close"

    # The same connection object: http.client reconnects by itself only if it was told to close.
    connection.request("GET", "/api/health")
    after = connection.getresponse()
    assert after.status == 200 and after.read() == b'{"status":"ok"}'
    if name == "asgi":
        assert not told_close  # uvicorn discards the rest of the body and keeps the connection


@pytest.mark.parametrize("server", ["asgi"], indirect=True)
def test_under_asgi_a_body_declared_too_large_is_refused_before_it_is_sent(server):
    # Django's ASGI handler would otherwise wait for (and store) the whole gigabyte before answering.
    _, port = server
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        raw.sendall(
            b"POST /api/v1/bot/create HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000000000\r\n\r\n" + b"x" * 65536
        )
        head = raw.recv(65536)
    assert head.startswith(b"HTTP/1.1 413 ")


def _json_post(port: int, path: str, body: dict, token: str | None = None) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    connection.request("POST", path, body=json.dumps(body), headers=headers)
    response = connection.getresponse()
    return response.status, json.loads(response.read())


def _sent_then_left(port: int, path: str, body: bytes, token: str | None, wait: float) -> None:
    """A whole request, then the connection reset after `wait` seconds, as wrk leaves at a run's end."""
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        raw.sendall(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n{auth}"
            f"Content-Length: {len(body)}\r\n\r\n".encode() + body
        )
        time.sleep(wait)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


@pytest.mark.parametrize("server", ["asgi"], indirect=True)
def test_under_asgi_clients_that_leave_mid_request_cause_no_error_and_leave_whole_turns(server, server_env):
    # Each client leaves at a different moment, so that some leave while the view's database phase runs
    # in its thread and has not read the body yet: Django then cancels the request and closes the body.
    _, port = server
    bot_id = server_env["PUBLIC_BOT_ID"]
    status, opened = _json_post(port, f"/api/v1/bot/{bot_id}/session/create", {})
    assert status == 200, opened
    cid, token = opened["conversationId"], opened["token"]
    complete, create = f"/api/v1/conversation/{cid}/complete", f"/api/v1/bot/{bot_id}/session/create"

    def leave(index):
        path, credential = (complete, token) if index % 2 else (create, None)
        _sent_then_left(port, path, b'{"text": "hi"}' if credential else b"{}", credential, (index % 40) * 0.0005)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(leave, range(480)))
    # Served in order behind what the clients left: once this is answered, the server is done with them.
    status, answered = _json_post(port, complete, {"text": "still there?"}, token)
    assert status == 200 and answered["text"] == "fallback", answered
    time.sleep(0.5)

    log = LOGS[port].read_text()
    assert "Traceback" not in log and " ERROR " not in log, log[-3000:]
    with sqlite3.connect(Path(server_env["BOTPORTAL_VAR_DIR"]) / "botportal.sqlite3") as db:
        kinds = [k for (k,) in db.execute("SELECT type FROM sessions_app_message WHERE conversation_id = ?"
                                          " ORDER BY id", [cid.replace("-", "")])]  # fmt: skip
        turns = db.execute("SELECT turn_ticket, turn_served FROM sessions_app_conversation WHERE id = ?",
                           [cid.replace("-", "")]).fetchone()  # fmt: skip
    # Every turn that was taken is whole: each user message has its reply, and no turn is held.
    assert kinds and kinds == ["user", "bot"] * (len(kinds) // 2), kinds
    assert turns[0] == turns[1], turns


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def _response(raw) -> tuple[bytes, bytes]:
    """The head and the body of the next response on a raw socket (Content-Length or chunked)."""
    data = b""
    while b"\r\n\r\n" not in data:
        more = raw.recv(65536)
        assert more, data
        data += more
    head, _, rest = data.partition(b"\r\n\r\n")
    fields = dict(line.lower().split(b": ", 1) for line in head.split(b"\r\n")[1:])
    if b"content-length" in fields:
        while len(rest) < int(fields[b"content-length"]):
            rest += raw.recv(65536)
        return head, rest
    while not rest.endswith(b"0\r\n\r\n"):
        rest += raw.recv(65536)
    body = b""
    while True:
        size, _, rest = rest.partition(b"\r\n")
        if not int(size, 16):
            return head, body
        body, rest = body + rest[: int(size, 16)], rest[int(size, 16) + 2 :]


@pytest.mark.parametrize("server", ["asgi"], indirect=True)
def test_under_asgi_a_chunked_body_over_the_limit_is_refused_at_the_limit(server):
    # No Content-Length to refuse up front: the bytes that arrive count. The answer comes while the
    # client is still sending (nothing waits for, or keeps, the rest), in the protocol's error shape.
    _, port = server
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        raw.sendall(
            b"POST /api/v1/bot/create HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n" + _chunk(b"x" * 65536) * (LIMIT // 65536 + 1)
        )
        head, body = _response(raw)
        assert head.startswith(b"HTTP/1.1 413 "), head
        error = json.loads(body)
        assert set(error) == {"message", "code"} and str(LIMIT) in error["message"], error
        assert b"connection: close" not in head.lower()
        # The client ends its body; the same connection serves its next request.
        raw.sendall(_chunk(b"x" * 1000) + b"0\r\n\r\nGET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        head, body = _response(raw)
        assert head.startswith(b"HTTP/1.1 200 ") and body == b'{"status":"ok"}', (head, body)


def test_jsonl_is_sent_as_the_upstream_answers(server, server_env, upstream):
    # Every server, WSGI ones included: the first token is out while the language model is still
    # answering (10 tokens 0.15 s apart), not the whole stream once it is over.
    _, port = server
    upstream.config.tokens, upstream.config.interval = 10, 0.15
    completed = upstream.stats()["completed"]
    locked = []

    def no_transaction_open(_request):
        # While the upstream is called, no transaction holds the server's database: SQLite's write
        # lock is free (BEGIN IMMEDIATE would fail at once otherwise).
        with sqlite3.connect(Path(server_env["BOTPORTAL_VAR_DIR"]) / "botportal.sqlite3", timeout=0) as db:
            try:
                db.execute("BEGIN IMMEDIATE")
                db.execute("ROLLBACK")
                locked.append(False)
            except sqlite3.OperationalError:
                locked.append(True)

    upstream.on_request = no_transaction_open
    try:
        status, opened = _json_post(port, f"/api/v1/bot/{server_env['LLM_BOT_ID']}/session/create", {})
        assert status == 200, opened
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request(
            "POST",
            f"/api/v1/conversation/{opened['conversationId']}/complete",
            body=json.dumps({"text": "hello there"}),
            headers={
                "Content-Type": "application/json", "Accept": "application/jsonl",
                "Authorization": f"Bearer {opened['token']}",
            },
        )  # fmt: skip
        response = connection.getresponse()
        assert response.status == 200
        first = json.loads(response.readline())
        assert first["type"] == "token" and upstream.stats()["completed"] == completed
        events = [json.loads(line) for line in response.read().splitlines() if line.strip()]
    finally:
        upstream.config.tokens, upstream.config.interval = 3, 0.0
        upstream.on_request = None
    assert locked == [False]
    assert [e["type"] for e in events] == ["token"] * 9 + ["message", "usage", "result"]
    assert events[-1]["data"]["text"] == "tok " * 10


def test_a_worker_loads_the_classifier_before_its_first_turn():
    """gunicorn.conf.py's post_worker_init, run as gunicorn runs it after the application is loaded."""
    probe = (
        "import runpy, sys, django; django.setup();"
        "assert 'numpy' not in sys.modules;"
        "runpy.run_path('gunicorn.conf.py')['post_worker_init'](None);"
        "assert 'numpy' in sys.modules and 'bots.engine.classifier' in sys.modules"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "botportal.settings", "DEBUG": "true"}
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
