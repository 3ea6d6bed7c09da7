
"""Turns served by the real ASGI application (uvicorn in a background thread) against the test database."""

import asyncio
import socket
import threading
import time

import httpx
import pytest

from bots.tests.factories import BotFactory
from tests.throttle_rates import rates_set


@pytest.fixture(scope="session")
def asgi_server():
    """botportal.asgi under uvicorn, serving in a daemon thread: its base URL."""
    import uvicorn
    from django.conf import settings

    from botportal.asgi import application

    # Each phase gives its connection back at once, as with the connection pool: none is left open in
    # the server's threads when the test database is dropped.
    database = settings.DATABASES["default"]
    max_age = database.get("CONN_MAX_AGE", 0)
    database["CONN_MAX_AGE"] = 0
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(application, lifespan="off", log_level="warning", timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(5)
    database["CONN_MAX_AGE"] = max_age


@pytest.fixture
def http(asgi_server):
    with httpx.Client(base_url=asgi_server, timeout=20) as client:
        yield client


@pytest.fixture
def llm_bot(owner, llm_settings):
    """A public bot answered by the fake upstream (no intent matches "hello there")."""
    return BotFactory(owner=owner, visibility="public", model="fake/any", fallback_message="fallback")


def open_session(http, bot) -> dict:
    response = http.post(f"/api/v1/bot/{bot.pk}/session/create", json={})
    assert response.status_code == 200, response.text
    return response.json()


# Many requests from one address in a few seconds are the point of these tests, not abuse.
@pytest.fixture(autouse=True)
def _generous_rates(monkeypatch):
    rates_set(monkeypatch, "100000/minute")
