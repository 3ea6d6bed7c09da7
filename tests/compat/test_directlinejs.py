"""Microsoft's `botframework-directlinejs` (pinned in package.json, in Node) through a whole conversation
against a live gunicorn/uvicorn botportal: polling, and over the WebSocket."""

import json
import os
import shutil
import subprocess

import httpx
import pytest

from .conftest import HERE, client_missing, start_server, stop_server

pytestmark = [pytest.mark.live]


def _node_or_skip():
    node = shutil.which("node")
    if node is None or not (HERE / "node_modules" / "botframework-directlinejs").exists():
        client_missing("node and `npm ci --prefix tests/compat` (make install-dev) are needed for the client test")
    return node


def _run(node, script, url, secret, **env):
    result = subprocess.run(  # noqa: S603 (fixed arguments)
        [node, str(HERE / script)],
        cwd=HERE,
        env={**os.environ, "BOTPORTAL_URL": url, "BOTPORTAL_DL_SECRET": secret, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("mode", ["polling", "websocket"])
def test_directlinejs_holds_a_whole_conversation(dl_env, dl_server, mode):
    node = _node_or_skip()
    out = _run(node, "directline_client.mjs", dl_server, dl_env["dl_secret"], DL_MODE=mode)

    assert out["statuses"][:3] == ["Uninitialized", "Connecting", "Online"]
    assert "ExpiredToken" not in out["statuses"] and "FailedToConnect" not in out["statuses"]
    conversation_id = out["generated"]["conversationId"]
    echo = out["menuEcho"]
    assert echo["id"] == out["menuId"] and echo["channelData"]["clientActivityID"] == "client-1"
    assert echo["from"]["id"] == "dl-node-user" and echo["timestamp"]
    reply = out["menuReply"]
    assert reply["from"] == {"id": dl_env["bot_id"], "name": "Direct Line helper", "role": "bot"}
    assert [a["value"] for a in reply["suggestedActions"]["actions"]] == ["Track my order", "Say goodbye"]
    assert out["trackReply"]["text"] == "[Track it here](https://shop.example/track)"
    assert out["end"]["type"] == "endOfConversation"
    welcome = out["activities"][0]
    assert welcome["text"] == "Hi! I'm the Direct Line helper." and welcome["conversation"]["id"] == conversation_id
    # No activity twice: the watermark pages each exactly once.
    ids = [a["id"] for a in out["activities"]]
    assert len(ids) == len(set(ids))

    # An ordinary conversation: its owner reads it over /api/v1.
    owner = httpx.Client(base_url=dl_server, headers={"Authorization": f"Bearer {dl_env['api_secret']}"})
    listed = owner.get(f"/api/v1/conversation/{conversation_id}/message/list", params={"order": "asc"}).json()
    texts = [(m["type"], m["text"]) for m in listed["items"]]
    assert texts[:3] == [("bot", "Hi! I'm the Direct Line helper."), ("user", "show me the menu"),
                         ("bot", "Here is what I can do.\n\nPick one")]
    assert ("user", "goodbye") in texts


@pytest.fixture(scope="module")
def throttled_server(dl_env):
    """A server whose conversations may take two turns a second."""
    process, url = start_server({**dl_env["env"], "BOTPORTAL_THROTTLE_SESSION_TOKEN": "2/second"})
    yield url
    stop_server(process)


def test_directlinejs_on_a_throttled_post(dl_env, throttled_server):
    """What directlinejs 0.15.8 does with a 429 on a post: its handler would hold the refusal for
    Retry-After milliseconds, but calls rxjs's Observable.timer, which it never loads, so the post
    resolves "retry" at once (Web Chat then shows "Send failed" after its send timeout) whatever
    Retry-After says. This test fails once a pinned directlinejs loads it: then see the next one."""
    node = _node_or_skip()
    out = _run(node, "directline_throttled.mjs", throttled_server, dl_env["dl_secret"])

    retried = [post for post in out["burst"] if post.get("id") == "retry"]
    assert len(retried) == 1 and len([post for post in out["burst"] if "status" in post]) == 0, out
    assert retried[0]["ms"] < 1000, retried
    assert "ExpiredToken" not in out["statuses"] and "FailedToConnect" not in out["statuses"]


def test_directlinejs_with_rxjs_timer_reports_a_throttled_post_once_it_may_send_again(dl_env, throttled_server):
    """Where its handler runs (the application has loaded rxjs's timer), directlinejs holds a 429 for
    Retry-After milliseconds before reporting it, and never retries it itself: botportal's Retry-After in
    milliseconds for it makes the refusal come when sending again works."""
    node = _node_or_skip()
    out = _run(node, "directline_throttled.mjs", throttled_server, dl_env["dl_secret"], DL_RXJS_TIMER="1")

    refused = [post for post in out["burst"] if "status" in post]
    assert len(refused) == 1 and len([post for post in out["burst"] if post.get("id", "retry") != "retry"]) == 2, out
    [refusal] = refused
    assert refusal["status"] == 429 and refusal["retryAfter"] == "1000", refusal
    assert refusal["ms"] >= 1000, refusal  # held for the wait, not for "1" millisecond
    assert out["again"].get("id", "retry") != "retry", out["again"]
    assert "ExpiredToken" not in out["statuses"] and "FailedToConnect" not in out["statuses"]
