"""A deactivated owner's bots serve no one: no new session, no widget, no CORS answer, and the tokens and
API secrets issued before stop working at once, on every protocol and in its own error shape.

The account is deactivated with a queryset update, as a script or the database would: nothing relies on
a signal or a task having run.
"""

import pytest
from django.contrib.auth import get_user_model

from bots.tests.factories import BotFactory
from sessions_app.models import Message
from sessions_app.tests.apis.einstein.conftest import EinsteinClient
from sessions_app.tests.apis.helpers import assert_error, open_session, post, token_client

pytestmark = pytest.mark.django_db

SHOP = "https://shop.example"


@pytest.fixture
def shop_bot(owner):
    return BotFactory(owner=owner, visibility="public", allowed_origins=[SHOP], name="Shop helper")


@pytest.fixture
def before(anon_client, owner_client, shop_bot, api_secret, owner):
    """What the owner's bot had handed out while the owner was active."""
    opened = open_session(anon_client, shop_bot)
    einstein = EinsteinClient(api_secret, owner.botportal_profile.org_id)
    begun = einstein.begin(shop_bot)
    assert begun.status_code == 200, begun.content
    return {
        "cid": opened["conversationId"],
        "token": token_client(opened["token"]),
        "einstein": einstein,
        "einstein_session": begun.json()["sessionId"],
    }


def set_active(owner, active: bool):
    get_user_model().objects.filter(pk=owner.pk).update(is_active=active)


def test_a_deactivated_owners_public_bot_opens_no_session(anon_client, shop_bot, owner):
    set_active(owner, False)
    for prefix in ("/api/v1", "/v1"):
        response = post(anon_client, f"{prefix}/bot/{shop_bot.pk}/session/create", {})
        assert_error(response, 404, "NOT_FOUND")
    set_active(owner, True)
    assert post(anon_client, f"/api/v1/bot/{shop_bot.pk}/session/create", {}).status_code == 200


def test_a_deactivated_owners_widget_is_gone(client, shop_bot, owner):
    set_active(owner, False)
    assert client.get(f"/widget/{shop_bot.pk}/").status_code == 404
    preflight = client.options(
        f"/api/v1/bot/{shop_bot.pk}/session/create", HTTP_ORIGIN=SHOP, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST"
    )
    assert "Access-Control-Allow-Origin" not in preflight
    set_active(owner, True)
    assert client.get(f"/widget/{shop_bot.pk}/").status_code == 200


def test_a_deactivated_owners_session_tokens_stop_at_once(before, owner):
    cid, client = before["cid"], before["token"]
    stored = Message.objects.filter(conversation_id=cid).count()
    set_active(owner, False)
    for route, body in (
        ("complete", {"text": "Hello"}),
        ("send", {"text": "Hello"}),
        ("receive", {}),
        ("session/refresh", {}),
        ("session/revoke", {}),
    ):
        response = post(client, f"/api/v1/conversation/{cid}/{route}", body)
        assert_error(response, 401, "NOT_AUTHENTICATED")
    assert_error(client.get(f"/api/v1/conversation/{cid}/message/list"), 401, "NOT_AUTHENTICATED")
    # Refused before the turn: nothing stored, so neither the model nor a webhook was asked.
    assert Message.objects.filter(conversation_id=cid).count() == stored
    set_active(owner, True)
    assert post(client, f"/api/v1/conversation/{cid}/complete", {"text": "Hello"}).status_code == 200


def test_a_deactivated_owners_api_secrets_stop_on_every_protocol(before, owner_client, shop_bot, owner):
    set_active(owner, False)
    assert_error(owner_client.get("/api/v1/bot/list"), 401, "NOT_AUTHENTICATED")
    assert_error(post(owner_client, "/api/v1/bot/create", {"name": "New"}), 401, "NOT_AUTHENTICATED")
    einstein = before["einstein"]
    # The Einstein client checks each answer against the spec's Error object.
    assert einstein.begin(shop_bot).status_code == 401
    session_id = before["einstein_session"]
    assert einstein.send(session_id, {"type": "Text", "sequenceId": 1, "text": "Hello"}).status_code == 401
    assert einstein.end(session_id).status_code == 401
    set_active(owner, True)
    assert owner_client.get("/api/v1/bot/list").status_code == 200
