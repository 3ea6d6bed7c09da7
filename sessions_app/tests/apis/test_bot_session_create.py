import threading
import time

import pytest
from django.db import connection

from bots.tests.factories import BotFactory
from sessions_app.models import BotSession, Contact, Conversation, Message
from sessions_app.tests.apis.helpers import PREFIXES, assert_error, open_session, post

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("prefix", PREFIXES)
def test_public_bot_session_for_anyone(anon_client, public_bot, prefix):
    before = int(time.time() * 1000)
    body = open_session(
        anon_client,
        public_bot,
        {"messages": [{"type": "user", "text": "Hello"}, {"type": "user", "text": "Anyone there?"}]},
        prefix=prefix,
    )
    assert set(body) == {"id", "conversationId", "token", "expiresAt", "messages"}
    assert body["id"] == str(public_bot.pk)
    assert isinstance(body["expiresAt"], int)
    assert before + 3600_000 - 5000 <= body["expiresAt"] <= int(time.time() * 1000) + 3600_000 + 5000
    assert [(m["type"], m["text"]) for m in body["messages"]] == [("user", "Hello"), ("user", "Anyone there?")]
    assert all(isinstance(m["id"], str) for m in body["messages"])
    conversation = Conversation.objects.get(pk=body["conversationId"])
    assert conversation.bot == public_bot
    assert list(conversation.messages.order_by("id").values_list("text", flat=True)) == ["Hello", "Anyone there?"]


def test_welcome_messages_come_first(anon_client, owner):
    bot = BotFactory(owner=owner, visibility="public", welcome_messages=["Hi! How can I help?"])
    body = open_session(anon_client, bot, {"messages": [{"type": "user", "text": "Prices?"}]})
    assert [(m["type"], m["text"]) for m in body["messages"]] == [("bot", "Hi! How can I help?"), ("user", "Prices?")]


def test_private_bot_needs_owner_secret(anon_client, other_client, owner_client, bot):
    assert_error(post(anon_client, f"/api/v1/bot/{bot.pk}/session/create"), 401, "NOT_AUTHENTICATED")
    assert_error(post(other_client, f"/api/v1/bot/{bot.pk}/session/create"), 403, "NOT_AUTHORIZED")
    assert post(owner_client, f"/api/v1/bot/{bot.pk}/session/create").status_code == 200


def test_protected_bot_needs_owner_secret(anon_client, owner_client, owner):
    bot = BotFactory(owner=owner, visibility="protected")
    assert_error(post(anon_client, f"/api/v1/bot/{bot.pk}/session/create"), 401, "NOT_AUTHENTICATED")
    assert post(owner_client, f"/api/v1/bot/{bot.pk}/session/create").status_code == 200


@pytest.mark.parametrize("bot_id", ["00000000-0000-0000-0000-000000000000", "not-a-uuid"])
def test_unknown_bot_is_404(anon_client, db, bot_id):
    assert_error(post(anon_client, f"/api/v1/bot/{bot_id}/session/create"), 404, "NOT_FOUND")


def test_invalid_secret_is_401(public_bot):
    from sessions_app.tests.apis.helpers import token_client

    client = token_client("sk-not-a-real-secret-at-all")
    assert_error(post(client, f"/api/v1/bot/{public_bot.pk}/session/create"), 401, "NOT_AUTHENTICATED")


@pytest.mark.parametrize(("duration", "expected"), [(None, 3600), (0, 3600), (1800, 1800), (86400, 86400)])
def test_duration_bounds(anon_client, public_bot, duration, expected):
    body = {} if duration is None else {"durationInSeconds": duration}
    session = open_session(anon_client, public_bot, body)
    stored = BotSession.objects.get(conversation_id=session["conversationId"])
    assert stored.duration_seconds == expected
    assert session["expiresAt"] == int(stored.expires_at.timestamp() * 1000)


def test_null_duration_means_default(anon_client, public_bot):
    session = open_session(anon_client, public_bot, {"durationInSeconds": None})
    assert BotSession.objects.get(conversation_id=session["conversationId"]).duration_seconds == 3600


@pytest.mark.parametrize("duration", [1799, 86401, -1, "3600", 1800.5, True, [1], {"s": 1}])
def test_duration_out_of_range_is_400_naming_the_range(anon_client, public_bot, duration):
    response = post(anon_client, f"/api/v1/bot/{public_bot.pk}/session/create", {"durationInSeconds": duration})
    assert_error(response, 400, "BAD_REQUEST", "durationInSeconds")
    assert "1800" in response.json()["message"] and "86400" in response.json()["message"]
    assert not Conversation.objects.exists() and not BotSession.objects.exists()


@pytest.mark.parametrize(
    ("messages", "where"),
    [
        ([{"type": "user", "text": "ok"}, {"type": "bot", "text": "I am the bot"}], "messages[1].type"),
        ([{"type": "context", "text": "x"}], "messages[0].type"),
        ([{"type": "backstory", "text": "x"}], "messages[0].type"),
        ([{"type": "user", "text": ""}], "messages[0].text"),
        ([{"type": "user", "text": "   "}], "messages[0].text"),
        ([{"type": "user"}], "messages[0].text"),
        (["hello"], "messages[0]"),
        ("hello", "messages"),
    ],
)
def test_invalid_initial_messages_are_400_and_nothing_is_created(anon_client, public_bot, messages, where):
    response = post(
        anon_client,
        f"/api/v1/bot/{public_bot.pk}/session/create",
        {"messages": messages, "contact": {"email": "ann@example.com"}},
    )
    assert_error(response, 400, "BAD_REQUEST", where)
    assert not Conversation.objects.exists()
    assert not Contact.objects.exists()
    assert not Message.objects.exists()
    assert not BotSession.objects.exists()


@pytest.mark.parametrize(
    ("contact", "field"),
    [
        ({"email": "not-an-email"}, "contact.email"),
        ({"phone": "12"}, "contact.phone"),
        ({"phone": "+1 415 555 2671 999"}, "contact.phone"),
        ({"name": 5}, "contact.name"),
        ("ann@example.com", "contact"),
    ],
)
def test_invalid_contact_is_400(anon_client, public_bot, contact, field):
    response = post(anon_client, f"/api/v1/bot/{public_bot.pk}/session/create", {"contact": contact})
    assert_error(response, 400, "BAD_REQUEST", field)
    assert not Contact.objects.exists() and not Conversation.objects.exists()


@pytest.mark.parametrize("meta", [{"_secret": 1}, "string", [1, 2]])
def test_invalid_meta_is_400(anon_client, public_bot, meta):
    response = post(anon_client, f"/api/v1/bot/{public_bot.pk}/session/create", {"meta": meta})
    assert_error(response, 400, "BAD_REQUEST", "meta")


def test_every_invalid_field_is_named(anon_client, public_bot):
    response = post(
        anon_client,
        f"/api/v1/bot/{public_bot.pk}/session/create",
        {"durationInSeconds": 5, "contact": {"email": "x"}, "messages": [{"type": "bot", "text": "x"}], "meta": 3},
    )
    message = assert_error(response, 400, "BAD_REQUEST")["message"]
    for field in ("durationInSeconds", "contact.email", "messages[0].type", "meta"):
        assert field in message


def test_returning_contact_is_reused_by_email_and_phone(anon_client, public_bot):
    first = open_session(anon_client, public_bot, {"contact": {"name": "Ann", "email": "Ann@Example.com"}})
    second = open_session(anon_client, public_bot, {"contact": {"name": "Ann Lee", "email": "ann@example.COM"}})
    assert Contact.objects.count() == 1
    contact = Contact.objects.get()
    assert contact.name == "Ann Lee" and contact.email == "ann@example.com"
    assert set(contact.conversations.values_list("pk", flat=True)) == {
        Conversation.objects.get(pk=first["conversationId"]).pk,
        Conversation.objects.get(pk=second["conversationId"]).pk,
    }
    open_session(anon_client, public_bot, {"contact": {"phone": "+1 (415) 555-2671"}})
    open_session(anon_client, public_bot, {"contact": {"phone": "+14155552671"}})
    assert Contact.objects.count() == 2
    assert Contact.objects.get(phone="+14155552671").conversations.count() == 2


def test_meta_is_stored_on_the_conversation(anon_client, public_bot):
    session = open_session(anon_client, public_bot, {"meta": {"page": "/pricing"}})
    assert Conversation.objects.get(pk=session["conversationId"]).meta == {"page": "/pricing"}


def test_session_token_cannot_open_sessions(anon_client, public_bot):
    from sessions_app.tests.apis.helpers import token_client

    token = open_session(anon_client, public_bot)["token"]
    assert_error(post(token_client(token), f"/api/v1/bot/{public_bot.pk}/session/create"), 401, "NOT_AUTHENTICATED")


def test_query_count_is_constant(anon_client, public_bot, django_assert_max_num_queries):
    body = {
        "contact": {"name": "Ann", "email": "ann@example.com"},
        "messages": [{"type": "user", "text": f"message {n}"} for n in range(5)],
        "meta": {"page": "/"},
    }
    # Bot, contact lookup and insert (with savepoints), variable defaults, conversation insert and state
    # save, one insert per initial message, the token; plus the engine reading the bot's definition
    # (4 queries), once per bot version and process.
    with django_assert_max_num_queries(20):
        open_session(anon_client, public_bot, body)
    body["messages"] = [{"type": "user", "text": "one"}]
    with django_assert_max_num_queries(9):
        open_session(anon_client, public_bot, body)


@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_with_the_same_email_make_one_contact(owner):
    from rest_framework.test import APIClient

    bot = BotFactory(owner=owner, visibility="public")
    barrier = threading.Barrier(2)
    statuses = []

    def create():
        try:
            barrier.wait(timeout=10)
            response = APIClient().post(
                f"/api/v1/bot/{bot.pk}/session/create", {"contact": {"email": "same@example.com"}}, format="json"
            )
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=create) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200, 200]
    assert Contact.objects.filter(email="same@example.com").count() == 1
    assert Conversation.objects.filter(contact__email="same@example.com").count() == 2


def test_a_failure_late_in_the_request_leaves_nothing_behind(public_bot, monkeypatch):
    from rest_framework.test import APIClient

    from sessions_app.services import sessions

    def broken(**kwargs):
        raise RuntimeError("token store unavailable")

    monkeypatch.setattr(sessions, "_session_issue", broken)
    client = APIClient(raise_request_exception=False)
    response = post(
        client,
        f"/api/v1/bot/{public_bot.pk}/session/create",
        {"contact": {"email": "late@example.com"}, "messages": [{"type": "user", "text": "hi"}]},
    )
    assert_error(response, 500, "INTERNAL_SERVER_ERROR")
    assert not Conversation.objects.exists() and not Contact.objects.exists() and not Message.objects.exists()
