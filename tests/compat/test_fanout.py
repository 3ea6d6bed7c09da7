"""A conversation's activities reach a socket held by another web process: two gunicorn/uvicorn servers
on one database (and one Redis, or none: the embedded default), the socket on one, the message posted
to the other."""

import json
import os
import time

import httpx
import pytest
from websockets.sync.client import connect

from .conftest import start_server, stop_server

pytestmark = [pytest.mark.live]


@pytest.fixture(scope="module", params=["no-layer", "redis"])
def channel_layer_env(request):
    """The servers' channel layer: Redis (production's, across processes), or none set (the embedded
    default: no layer, and each process looks in the database every second for its sockets)."""
    if request.param == "no-layer":
        return {}
    url = os.environ.get("REDIS_URL")
    if not url:
        # The PostgreSQL-and-Redis pass of `make test` runs it; the embedded-defaults pass has no Redis.
        pytest.skip("set REDIS_URL: the fan-out across web processes goes through Redis")
    return {"REDIS_URL": url}


@pytest.fixture(scope="module")
def two_servers(dl_env, channel_layer_env):
    env = {**dl_env["env"], **channel_layer_env}
    first, first_url = start_server(env)
    try:
        second, second_url = start_server(env)
    except BaseException:
        stop_server(first)
        raise
    yield first_url, second_url
    stop_server(second)
    stop_server(first)


def _frames(socket, count, timeout=15):
    activities, deadline = [], time.monotonic() + timeout
    while len(activities) < count:
        frame = socket.recv(timeout=max(0.1, deadline - time.monotonic()))
        if frame:
            activities += json.loads(frame)["activities"]
    return activities


def test_a_socket_on_one_process_gets_what_another_process_stored(dl_env, two_servers):
    first_url, second_url = two_servers
    secret = {"Authorization": f"Bearer {dl_env['dl_secret']}"}
    started = httpx.post(f"{first_url}/v3/directline/conversations", headers=secret, timeout=20)
    assert started.status_code == 201, started.text
    body = started.json()
    token = {"Authorization": f"Bearer {body['token']}"}
    assert body["streamUrl"].startswith(first_url.replace("http://", "ws://"))
    with connect(body["streamUrl"]) as socket:  # no Origin header, as Node clients
        [welcome] = _frames(socket, 1)
        assert welcome["text"] == "Hi! I'm the Direct Line helper."
        socket.send("")  # a keep-alive: ignored
        sent = httpx.post(
            f"{second_url}/v3/directline/conversations/{body['conversationId']}/activities",
            headers=token, json={"type": "message", "text": "show me the menu", "from": {"id": "u1"}}, timeout=20,
        )
        assert sent.status_code == 200, sent.text
        echo, *replies = _frames(socket, 3)
        assert echo["id"] == sent.json()["id"]
        assert replies[-1]["suggestedActions"]["actions"][0]["value"] == "Track my order"
