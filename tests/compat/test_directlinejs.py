"""Microsoft's `botframework-directlinejs` (pinned in package.json, in Node) through a whole conversation
against a live gunicorn/uvicorn botportal: polling, and over the WebSocket."""

import json
import os
import shutil
import subprocess

import httpx
import pytest

from .conftest import HERE, client_missing

pytestmark = [pytest.mark.live]


def _node_or_skip():
    node = shutil.which("node")
    if node is None or not (HERE / "node_modules" / "botframework-directlinejs").exists():
        client_missing("node and `npm ci --prefix tests/compat` (make install-dev) are needed for the client test")
    return node


@pytest.mark.parametrize("mode", ["polling", "websocket"])
def test_directlinejs_holds_a_whole_conversation(dl_env, dl_server, mode):
    node = _node_or_skip()
    result = subprocess.run(  # noqa: S603 (fixed arguments)
        [node, str(HERE / "directline_client.mjs")],
        cwd=HERE,
        env={**os.environ, "BOTPORTAL_URL": dl_server, "BOTPORTAL_DL_SECRET": dl_env["dl_secret"], "DL_MODE": mode},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    out = json.loads(result.stdout.strip().splitlines()[-1])

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
