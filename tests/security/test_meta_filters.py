"""`meta.<key>` filters over HTTP: every key is a plain JSON key compared for equality, never an ORM lookup."""

import pytest
from rest_framework.test import APIClient

from sessions_app.models import Message
from sessions_app.tests.apis.helpers import assert_error, open_session, token_client

pytestmark = pytest.mark.django_db

KEYS = ["contains", "isnull", "regex", "a__b", "has_keys", "icontains", "startswith"]


@pytest.mark.parametrize("key", KEYS)
def test_lookup_names_are_keys_on_the_session_tokens_message_list(public_bot, key):
    opened = open_session(APIClient(), public_bot, {"messages": [{"type": "user", "text": "hi"}]})
    client = token_client(opened["token"])
    path = f"/api/v1/conversation/{opened['conversationId']}/message/list"
    for value in ("x", "true", ".*"):
        response = client.get(path, {f"meta.{key}": value})
        assert response.status_code == 200, response.content
        assert response.json()["items"] == []
    Message.objects.filter(conversation_id=opened["conversationId"], type="user").update(meta={key: ".*"})
    assert [m["text"] for m in client.get(path, {f"meta.{key}": ".*"}).json()["items"]] == ["hi"]


@pytest.mark.parametrize("key", KEYS)
def test_lookup_names_are_keys_on_the_owners_lists(owner_client, key):
    for route in ("conversation", "contact", "bot"):
        response = owner_client.get(f"/api/v1/{route}/list", {f"meta.{key}": "true"})
        assert response.status_code == 200, response.content


def test_botportals_own_keys_cannot_be_filtered_on(owner_client):
    assert_error(owner_client.get("/api/v1/conversation/list", {"meta._runtime": "x"}), 400, "BAD_REQUEST")
