"""Meta that botportal writes is botportal's alone: clients can neither set it, read it nor wipe it."""

import pytest
from django.forms.models import model_to_dict
from rest_framework.test import APIClient

from botportal.validation import SERVER_MESSAGE_META_KEYS
from sessions_app.models import Conversation, Message
from sessions_app.protocols.einstein.models import EinsteinSession
from sessions_app.services.owners import owner_profile_ensure
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


def _state(conversation) -> dict:
    return model_to_dict(EinsteinSession.objects.get(conversation=conversation))


@pytest.fixture
def einstein(api_secret, owner):
    return EinsteinClient(api_secret, owner_profile_ensure(owner=owner).org_id)


@pytest.fixture
def runtime_conversation(einstein, bot):
    capabilities = {"messageTypes": [{"messageType": "StaticContentMessage", "formatTypes": [{"formatType": "Text"}]}]}
    variables = [{"name": "$Context.Channel", "type": "text", "value": "web"}]
    begun = einstein.begin(bot, richContentCapabilities=capabilities, variables=variables)
    assert begun.status_code == 200, begun.content
    conversation = Conversation.objects.get(pk=begun.json()["sessionId"])
    sent = einstein.send(conversation.pk, {"type": "text", "text": "hello", "sequenceId": 1})
    assert sent.status_code == 200, sent.content
    state = EinsteinSession.objects.get(conversation=conversation)
    assert state.rich_content == {"StaticContentMessage": ["Text"]}
    assert state.variable_types == {"$Context.Channel": "text"} and state.last_sequence_id == 1
    # The runtime's state is not in the conversation's meta, where the owner's update writes.
    assert conversation.meta == {}
    return conversation


def test_a_conversation_update_cannot_touch_the_runtime_state(owner_client, einstein, runtime_conversation):
    before = _state(runtime_conversation)
    path = f"/api/v1/conversation/{runtime_conversation.pk}/update"
    for body in ({"meta": {"ticket": "T-1"}}, {"meta": {}}, {"name": "renamed", "description": "d", "meta": None}):
        assert post(owner_client, path, body).status_code == 200
        assert _state(runtime_conversation) == before
    runtime_conversation.refresh_from_db()
    assert runtime_conversation.meta == {} and runtime_conversation.name == "renamed"
    # The session goes on as begun: the retry of sequenceId 1 is still recognised, 2 follows it.
    retry = einstein.send(runtime_conversation.pk, {"type": "text", "text": "hello", "sequenceId": 1})
    assert retry.status_code == 200 and retry.json()["processedSequenceIds"] == [1]
    assert einstein.send(runtime_conversation.pk, {"type": "text", "text": "more", "sequenceId": 2}).status_code == 200
    assert EinsteinSession.objects.get(conversation=runtime_conversation).last_sequence_id == 2


def test_the_runtime_state_is_neither_writable_nor_readable_through_the_api(owner_client, runtime_conversation):
    before = _state(runtime_conversation)
    path = f"/api/v1/conversation/{runtime_conversation.pk}/update"
    assert_error(post(owner_client, path, {"meta": {"_runtime": {"richContent": {}}}}), 400, "BAD_REQUEST", "meta")
    assert _state(runtime_conversation) == before
    fetch = owner_client.get(f"/api/v1/conversation/{runtime_conversation.pk}/fetch").json()
    listed = owner_client.get("/api/v1/conversation/list").json()["items"]
    for name in ("last_response", "lastResponse", "richContent", "externalSessionKey", "sequenceId"):
        assert name not in fetch and all(name not in item for item in listed)
    # Keys starting with "_" stay botportal's: written by bulk SQL, say, they are still not shown.
    Conversation.objects.filter(pk=runtime_conversation.pk).update(meta={"ticket": "T-1", "_runtime": {"x": 1}})
    assert owner_client.get(f"/api/v1/conversation/{runtime_conversation.pk}/fetch").json()["meta"] == {"ticket": "T-1"}
    assert_error(owner_client.get("/api/v1/conversation/list?meta._runtime=x"), 400, "BAD_REQUEST")
