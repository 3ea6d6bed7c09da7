"""The official npm client `@chatbotkit/sdk` against a live botportal (see chatbotkit_sdk.mjs)."""

import json
import os
import shutil
import subprocess
from datetime import timedelta

import pytest
from django.utils import timezone

from bots.tests.factories import BotFactory
from sessions_app.models import BotSession, Contact, Conversation, Message
from sessions_app.services.owners import api_key_create, bot_owner_create
from sessions_app.services.sessions import bot_session_create

from .conftest import HERE, client_missing

NODE_MODULES = HERE / "node_modules" / "@chatbotkit" / "sdk"

pytestmark = [pytest.mark.live]


def _node_or_skip():
    node = shutil.which("node")
    if node is None or not NODE_MODULES.exists():
        client_missing("node and `npm ci --prefix tests/compat` (make install-dev) are needed for the client test")
    return node


def test_official_client_works_against_botportal(live_server):
    node = _node_or_skip()
    owner = bot_owner_create(username="sdk-owner", password="correct horse battery staple")
    secret = api_key_create(owner=owner, name="sdk")[1]
    # A session whose token expired a moment ago.
    old_bot = BotFactory(owner=owner, visibility="public")
    old = bot_session_create(bot=old_bot, actor=None)
    BotSession.objects.filter(pk=old.issued.bot_session.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    result = subprocess.run(  # noqa: S603 (fixed arguments)
        [node, str(HERE / "chatbotkit_sdk.mjs")],
        cwd=HERE,
        env={
            **os.environ,
            "BOTPORTAL_URL": live_server.url,
            "BOTPORTAL_SECRET": secret,
            "BOTPORTAL_EXPIRED_TOKEN": old.issued.token,
            "BOTPORTAL_EXPIRED_CONVERSATION": str(old.conversation.pk),
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)

    bot_id = out["botId"]
    assert out["bot"]["id"] == bot_id and out["bot"]["name"] == "SDK bot" and out["bot"]["orgId"]
    session = out["session"]
    assert session["id"] == bot_id and session["token"] and isinstance(session["expiresAt"], int)
    assert [(m["type"], m["text"]) for m in session["messages"]] == [("user", "Hello from the SDK")]
    conversation = Conversation.objects.get(pk=session["conversationId"])
    assert conversation.contact == Contact.objects.get(owner=owner, email="ann@example.com")

    fallback = conversation.bot.fallback_message
    assert out["complete"]["text"] == fallback and out["complete"]["end"] == {"reason": "stop"}
    events = out["streamed"]
    assert "".join(e["data"]["token"] for e in events if e["type"] == "token") == fallback
    assert events[-1]["type"] == "result" and events[-1]["data"]["text"] == fallback

    texts = [(m["type"], m["text"]) for m in out["messages"]["items"]]
    assert texts == [
        ("user", "Hello from the SDK"),
        ("user", "What are your opening hours?"),
        ("bot", fallback),
        ("user", "And on Sundays?"),
        ("bot", fallback),
    ]
    assert [m["text"] for m in out["ownerMessages"]["items"]] == [fallback, "And on Sundays?"]

    assert out["conversationSession"]["id"] == session["conversationId"]
    assert out["secondComplete"]["text"] == fallback
    assert Message.objects.filter(conversation=conversation).count() == 7

    for key in ("foreignTokenError", "expiredTokenError", "ownerRouteError", "streamError"):
        assert out[key] is not None, key
        assert out[key]["code"] == "NOT_AUTHENTICATED", out[key]
    assert "expired" in out["expiredTokenError"]["message"]
    assert out["notFoundError"]["code"] == "NOT_FOUND"
