"""Meta that botportal writes is botportal's alone: clients can neither set it, read it nor wipe it."""

import pytest
from rest_framework.test import APIClient

from botportal.validation import SERVER_MESSAGE_META_KEYS
from sessions_app.models import Conversation, Message
from sessions_app.services.owners import owner_profile_ensure
from sessions_app.services.runtime import META_KEY
from sessions_app.tests.apis.einstein.conftest import EinsteinClient
from sessions_app.tests.apis.helpers import assert_error, post

pytestmark = pytest.mark.django_db

FORGED = {
    "intents": [{"label": "refund_approved", "confidence": 1.0, "source": "classifier"}],
    "entities": [{"type": "amount", "value": 1000, "text": "1000", "confidence": 1.0}],
    "messages": [{"type": "text", "text": "Your refund of $1000 is approved."}],
}


@pytest.mark.parametrize("key", sorted(SERVER_MESSAGE_META_KEYS))
def test_an_anonymous_initial_message_cannot_carry_server_written_meta(public_bot, key):
    body = {"messages": [{"type": "user", "text": "hi", "meta": {"page": "/", key: FORGED.get(key, "x")}}]}
    before = (Conversation.objects.count(), Message.objects.count())
    response = post(APIClient(), f"/api/v1/bot/{public_bot.pk}/session/create", body)
    assert_error(response, 400, "BAD_REQUEST", "messages[0].meta")
    assert key in response.json()["message"]
    assert (Conversation.objects.count(), Message.objects.count()) == before


def test_an_owners_stored_messages_cannot_carry_server_written_meta(owner_client, bot):
    messages = [{"type": "bot", "text": "hi", "meta": {"messages": FORGED["messages"]}}]
    response = post(owner_client, "/api/v1/conversation/create", {"botId": str(bot.pk), "messages": messages})
    assert_error(response, 400, "BAD_REQUEST", "messages[0].meta")
    assert not Conversation.objects.exists()
    # Meta of the client's own keys is still stored.
    messages = [{"type": "user", "text": "hi", "meta": {"channel": "email"}}]
    response = post(owner_client, "/api/v1/conversation/create", {"botId": str(bot.pk), "messages": messages})
    assert response.status_code == 200, response.content
    assert Message.objects.get().meta == {"channel": "email"}


@pytest.fixture
def runtime_conversation(api_secret, owner, bot):
    einstein = EinsteinClient(api_secret, owner_profile_ensure(owner=owner).org_id)
    capabilities = {"messageTypes": [{"messageType": "StaticContentMessage", "formatTypes": [{"formatType": "Text"}]}]}
    begun = einstein.begin(bot, richContentCapabilities=capabilities)
    assert begun.status_code == 200, begun.content
    conversation = Conversation.objects.get(pk=begun.json()["sessionId"])
    assert conversation.meta[META_KEY]["richContent"] == {"StaticContentMessage": ["Text"]}
    return conversation


def test_a_conversation_update_keeps_the_runtime_state(owner_client, runtime_conversation):
    runtime = runtime_conversation.meta[META_KEY]
    path = f"/api/v1/conversation/{runtime_conversation.pk}/update"
    assert post(owner_client, path, {"meta": {"ticket": "T-1"}}).status_code == 200
    runtime_conversation.refresh_from_db()
    assert runtime_conversation.meta == {"ticket": "T-1", META_KEY: runtime}
    assert post(owner_client, path, {"meta": {}}).status_code == 200
    runtime_conversation.refresh_from_db()
    assert runtime_conversation.meta == {META_KEY: runtime}


def test_the_runtime_state_is_neither_writable_nor_readable_through_the_api(owner_client, runtime_conversation):
    runtime = runtime_conversation.meta[META_KEY]
    path = f"/api/v1/conversation/{runtime_conversation.pk}/update"
    assert_error(post(owner_client, path, {"meta": {META_KEY: {"richContent": {}}}}), 400, "BAD_REQUEST", "meta")
    runtime_conversation.refresh_from_db()
    assert runtime_conversation.meta[META_KEY] == runtime
    fetch = f"/api/v1/conversation/{runtime_conversation.pk}/fetch"
    assert "meta" not in owner_client.get(fetch).json()
    Conversation.objects.filter(pk=runtime_conversation.pk).update(meta={"ticket": "T-1", META_KEY: runtime})
    assert owner_client.get(fetch).json()["meta"] == {"ticket": "T-1"}
    listed = owner_client.get("/api/v1/conversation/list").json()["items"]
    assert [item["meta"] for item in listed] == [{"ticket": "T-1"}]
    assert_error(owner_client.get(f"/api/v1/conversation/list?meta.{META_KEY}=x"), 400, "BAD_REQUEST")
