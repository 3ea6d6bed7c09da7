"""A graceful shutdown of the production server (gunicorn with uvicorn's worker, SIGTERM) lets a Direct
Line turn whose post was already answered store its reply: the ASGI lifespan drains the work its
requests left running (botportal.background)."""

import json
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.live import free_port, wait_until_healthy

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = str(Path(sys.executable).parent / "gunicorn")

pytestmark = pytest.mark.live


def _call(method, url, body=None, token=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, method=method, data=data)  # noqa: S310 (a local server)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (a local server)
        return json.loads(response.read())


def test_sigterm_lets_an_answered_posts_turn_store_its_reply(tmp_path):
    from bench.fake_upstream import start

    upstream = start(tokens=20, interval=0.1)  # a 2 s answer
    var = tmp_path / "var"
    dropped = {"DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE", "DJANGO_SETTINGS_MODULE", "WEB_CONCURRENCY",
               "REDIS_URL", "CACHE_URL", "CHANNEL_LAYER_URL"}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update({
        "DEBUG": "false", "SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false", "BOTPORTAL_VAR_DIR": str(var), "STATIC_ROOT": str(var / "static"),
        "LOG_LEVEL": "ERROR", "LLM_PROVIDER_NAME": "fake", "LLM_BASE_URL": upstream.url, "LLM_API_KEY": "sk-fake",
    })  # fmt: skip

    def manage(*args):
        out = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True,  # noqa: S603
                             timeout=180, capture_output=True, text=True)  # fmt: skip
        return out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""

    port = free_port()
    process = None
    try:
        manage("migrate", "-v0")
        api_secret = manage("createapikey", "shutdown-owner", "--create-user")
        base = f"http://127.0.0.1:{port}"
        process = subprocess.Popen(  # noqa: S603
            [GUNICORN, "botportal.asgi:application", "--workers", "1", "--bind", f"127.0.0.1:{port}",
             "--no-control-socket"], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        wait_until_healthy(process, port, process.stderr.read)
        bot = _call("POST", f"{base}/api/v1/bot/create", {"name": "Slow", "model": "fake/slow"}, api_secret)
        dl_secret = manage("directlinesecret", bot["id"])
        started = _call("POST", f"{base}/v3/directline/conversations", token=dl_secret)
        posted = _call(
            "POST", f"{base}/v3/directline/conversations/{started['conversationId']}/activities",
            {"type": "message", "text": "tell me something", "from": {"id": "u1"}}, started["token"],
        )  # fmt: skip
        assert upstream.counters.completed == 0  # answered before its reply
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=40) == 0
        assert upstream.counters.completed == 1
        database = sqlite3.connect(var / "botportal.sqlite3")
        rows = database.execute(
            "SELECT type, text FROM sessions_app_message WHERE conversation_id = ? AND id > ? ORDER BY id",
            (started["conversationId"].replace("-", ""), int(posted["id"])),
        ).fetchall()
        assert [kind for kind, _ in rows] == ["bot"] and "tok" in rows[0][1]
    finally:
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        upstream.stop()
