"""Meta that botportal writes is botportal's alone: clients can neither set it, read it nor wipe it."""

import pytest
from django.forms.models import model_to_dict
from django.test import Client
from rest_framework.test import APIClient

from botportal.validation import SERVER_MESSAGE_META_KEYS
from sessions_app.models import Conversation, Message
from sessions_app.protocols.directline.models import DirectLineConversation
from sessions_app.protocols.directline.services import directline_secret_create
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


def _directline_state(conversation_id) -> dict:
    return model_to_dict(DirectLineConversation.objects.get(conversation_id=conversation_id))


def test_a_conversation_update_cannot_touch_the_direct_line_state(owner_client, bot):
    secret = directline_secret_create(bot=bot, name="site")[1]
    bot.allowed_origins = []
    bot.save(update_fields=["allowed_origins"])
    client = Client()
    generated = client.post(
        "/v3/directline/tokens/generate",
        {"user": {"id": "u-7", "name": "Ann"}, "trustedOrigins": ["https://shop.example"]},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert generated.status_code == 200, generated.content
    conversation_id, token = generated.json()["conversationId"], generated.json()["token"]
    before = _directline_state(conversation_id)
    assert before["user_id"] == "u-7" and before["trusted_origins"] == ["https://shop.example"]
    # The state is not in the conversation's meta, where the owner's update writes.
    assert Conversation.objects.get(pk=conversation_id).meta == {}
    path = f"/api/v1/conversation/{conversation_id}/update"
    for body in ({"meta": {"ticket": "T-1"}}, {"meta": {}}, {"name": "renamed", "meta": None}):
        assert post(owner_client, path, body).status_code == 200
        assert _directline_state(conversation_id) == before
    assert_error(post(owner_client, path, {"meta": {"_directline": {"trustedOrigins": ["https://evil.example"]}}}),
                 400, "BAD_REQUEST", "meta")
    assert _directline_state(conversation_id) == before
    fetched = owner_client.get(f"/api/v1/conversation/{conversation_id}/fetch").json()
    assert fetched.get("meta", {}) == {} and not {"trustedOrigins", "userId", "directline"} & set(fetched)
    # The conversation goes on as started: its trusted origin still allowed, another still refused, its
    # activities still from the token's user.
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    activities = f"/v3/directline/conversations/{conversation_id}/activities"
    assert client.get(activities, HTTP_ORIGIN="https://evil.example", **auth).status_code == 403
    sent = client.post(activities, {"type": "message", "text": "hello"}, content_type="application/json",
                       HTTP_ORIGIN="https://shop.example", **auth)
    assert sent.status_code == 200, sent.content
    polled = client.get(activities, HTTP_ORIGIN="https://shop.example", **auth)
    assert polled.status_code == 200, polled.content
    users = [a["from"] if a["from"]["role"] == "user" else a["recipient"] for a in polled.json()["activities"]]
    assert users and all(user == {"id": "u-7", "name": "Ann", "role": "user"} for user in users)
