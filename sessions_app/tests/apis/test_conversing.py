import json
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from botportal.api.base import epoch_ms
from bots.tests.factories import BotFactory
from sessions_app.models import BotSession, Conversation, Message
from sessions_app.services.conversations import conversation_end
from sessions_app.tests.apis.helpers import (
    PREFIXES,
    assert_error,
    jsonl_events,
    open_session,
    post,
    token_client,
)
from sessions_app.tests.factories import ConversationFactory, MessageFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def session(anon_client, public_bot):
    body = open_session(anon_client, public_bot, {"contact": {"email": "ann@example.com"}})
    return {**body, "client": token_client(body["token"]), "cid": body["conversationId"]}


@pytest.mark.parametrize("prefix", PREFIXES)
def test_complete_stores_the_pair_and_answers(session, public_bot, prefix):
    response = post(session["client"], f"{prefix}/conversation/{session['cid']}/complete", {"text": "Hello"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"id", "text", "usage", "end"}
    assert body["text"] == public_bot.fallback_message
    assert body["end"] == {"reason": "stop"}
    assert isinstance(body["usage"]["token"], int) and body["usage"]["token"] > 0
    messages = list(Message.objects.filter(conversation_id=session["cid"]).order_by("id"))
    assert [(m.type, m.text) for m in messages] == [("user", "Hello"), ("bot", public_bot.fallback_message)]
    assert body["id"] == str(messages[1].pk)


def test_complete_streams_jsonl(session, public_bot):
    response = post(
        session["client"],
        f"/api/v1/conversation/{session['cid']}/complete",
        {"text": "Hi"},
        HTTP_ACCEPT="application/jsonl",
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/jsonl")
    events = jsonl_events(response)
    tokens = [e["data"]["token"] for e in events if e["type"] == "token"]
    assert "".join(tokens) == public_bot.fallback_message
    assert events[-1]["type"] == "result"
    result = events[-1]["data"]
    assert result["text"] == public_bot.fallback_message and result["end"] == {"reason": "stop"}
    assert result["usage"]["token"] == len(tokens)
    assert {"message", "usage"} <= {e["type"] for e in events}
    assert all(isinstance(e["createdAt"], int) for e in events)
    assert Message.objects.filter(conversation_id=session["cid"]).count() == 2


def test_error_inside_a_stream_is_an_error_event(session, public_bot, llm_settings, fake_upstream):
    # The language model sends half its answer, then closes the connection without [DONE].
    public_bot.model = "fake/fake-early-end"
    public_bot.save()
    fake_upstream.config.tokens = 4
    response = post(
        session["client"],
        f"/api/v1/conversation/{session['cid']}/complete",
        {"text": "Hi"},
        HTTP_ACCEPT="application/jsonl",
    )
    events = jsonl_events(response)
    assert [e["data"]["token"] for e in events if e["type"] == "token"] == ["tok ", "tok "]
    assert events[-1]["type"] == "error"
    assert events[-1]["data"]["code"] == "INTERNAL_SERVER_ERROR" and "early" in events[-1]["data"]["message"]
    # The user's message stays, waiting for a reply; no half answer is stored.
    assert list(Message.objects.filter(conversation_id=session["cid"]).values_list("type", flat=True)) == ["user"]


def test_stream_refused_outright_is_a_plain_error(session):
    response = post(
        session["client"], f"/api/v1/conversation/{session['cid']}/receive", {}, HTTP_ACCEPT="application/jsonl"
    )
    assert_error(response, 409, "CONFLICT", "send one first")


def test_send_then_receive(session, public_bot):
    sent = post(session["client"], f"/api/v1/conversation/{session['cid']}/send", {"text": "Question"})
    assert sent.status_code == 200
    assert set(sent.json()) == {"id", "entities"} and sent.json()["entities"] == []
    received = post(session["client"], f"/api/v1/conversation/{session['cid']}/receive", {})
    assert received.status_code == 200
    body = received.json()
    assert set(body) == {"id", "text", "usage"} and body["text"] == public_bot.fallback_message
    messages = list(Message.objects.filter(conversation_id=session["cid"]).order_by("id"))
    assert [m.type for m in messages] == ["user", "bot"] and str(messages[0].pk) == sent.json()["id"]


def test_receive_streams(session, public_bot):
    post(session["client"], f"/api/v1/conversation/{session['cid']}/send", {"text": "Question"})
    response = post(
        session["client"], f"/api/v1/conversation/{session['cid']}/receive", {}, HTTP_ACCEPT="application/jsonl"
    )
    events = jsonl_events(response)
    assert [e["type"] for e in events][-2:] == ["receiveResult", "result"]
    assert events[-1]["data"]["text"] == public_bot.fallback_message


def test_receive_without_a_waiting_message_is_409(session):
    assert_error(post(session["client"], f"/api/v1/conversation/{session['cid']}/receive"), 409, "CONFLICT")


@pytest.mark.parametrize(("body", "field"), [({}, "text"), ({"text": ""}, "text"), ({"text": 5}, "text")])
def test_send_needs_text(session, body, field):
    response = post(session["client"], f"/api/v1/conversation/{session['cid']}/send", body)
    assert_error(response, 400, "BAD_REQUEST", field)


@pytest.mark.parametrize("body", [{"text": ""}, {"text": "  "}, {"text": ["a"]}])
def test_complete_with_invalid_text_is_400(session, body):
    response = post(session["client"], f"/api/v1/conversation/{session['cid']}/complete", body)
    assert_error(response, 400, "BAD_REQUEST", "text")
    assert not Message.objects.filter(conversation_id=session["cid"]).exists()


@override_settings(BOTPORTAL={**__import__("django.conf").conf.settings.BOTPORTAL, "MAX_MESSAGE_CHARS": 10})
def test_too_long_text_is_400(session):
    response = post(session["client"], f"/api/v1/conversation/{session['cid']}/complete", {"text": "x" * 11})
    assert_error(response, 400, "BAD_REQUEST", "limit is 10")


def test_token_on_another_conversation_is_401(session, public_bot, anon_client):
    other = open_session(anon_client, public_bot)
    for route in ("complete", "send", "receive", "session/revoke", "session/refresh"):
        assert_error(
            post(session["client"], f"/api/v1/conversation/{other['conversationId']}/{route}", {"text": "hi"}),
            401,
            "NOT_AUTHENTICATED",
        )
    assert_error(
        session["client"].get(f"/api/v1/conversation/{other['conversationId']}/message/list"), 401, "NOT_AUTHENTICATED"
    )
    assert_error(
        post(session["client"], "/api/v1/conversation/not-a-uuid/complete", {"text": "x"}), 401, "NOT_AUTHENTICATED"
    )
    assert not Message.objects.filter(conversation_id=other["conversationId"]).exists()


def test_token_on_owner_routes_is_401(session, public_bot):
    client = session["client"]
    assert_error(client.get("/api/v1/bot/list"), 401, "NOT_AUTHENTICATED")
    assert_error(client.get(f"/api/v1/bot/{public_bot.pk}/fetch"), 401, "NOT_AUTHENTICATED")
    assert_error(client.get("/api/v1/conversation/list"), 401, "NOT_AUTHENTICATED")
    assert_error(client.get(f"/api/v1/conversation/{session['cid']}/fetch"), 401, "NOT_AUTHENTICATED")
    assert_error(client.get("/api/v1/contact/list"), 401, "NOT_AUTHENTICATED")
    assert_error(post(client, f"/api/v1/conversation/{session['cid']}/session/create"), 401, "NOT_AUTHENTICATED")
    assert_error(post(client, f"/api/v1/conversation/{session['cid']}/delete"), 401, "NOT_AUTHENTICATED")


def test_expired_token_is_401_the_instant_it_expires(session):
    BotSession.objects.filter(conversation_id=session["cid"]).update(expires_at=timezone.now())
    response = post(session["client"], f"/api/v1/conversation/{session['cid']}/complete", {"text": "hi"})
    assert_error(response, 401, "NOT_AUTHENTICATED", "expired")


def test_revoked_token_and_ended_conversation_are_401(session, anon_client, public_bot):
    response = post(session["client"], f"/api/v1/conversation/{session['cid']}/session/revoke")
    assert response.status_code == 200 and response.json() == {"id": session["cid"], "revoked": 1}
    assert_error(
        post(session["client"], f"/api/v1/conversation/{session['cid']}/complete", {"text": "x"}),
        401,
        "NOT_AUTHENTICATED",
        "revoked",
    )
    other = open_session(anon_client, public_bot)
    from sessions_app.models import Conversation

    conversation_end(conversation=Conversation.objects.get(pk=other["conversationId"]))
    assert_error(
        post(token_client(other["token"]), f"/api/v1/conversation/{other['conversationId']}/complete", {"text": "x"}),
        401,
        "NOT_AUTHENTICATED",
    )


def test_unknown_token_is_401(session):
    assert_error(
        post(token_client("nope"), f"/api/v1/conversation/{session['cid']}/complete", {"text": "x"}),
        401,
        "NOT_AUTHENTICATED",
    )


def test_owner_revokes_every_token_of_the_conversation(session, owner_client):
    second = post(owner_client, f"/api/v1/conversation/{session['cid']}/session/create").json()
    response = post(owner_client, f"/api/v1/conversation/{session['cid']}/session/revoke")
    assert response.json() == {"id": session["cid"], "revoked": 2}
    for token in (session["token"], second["token"]):
        assert_error(
            token_client(token).get(f"/api/v1/conversation/{session['cid']}/message/list"), 401, "NOT_AUTHENTICATED"
        )


def test_other_owner_cannot_revoke(session, other_client):
    assert_error(post(other_client, f"/api/v1/conversation/{session['cid']}/session/revoke"), 404, "NOT_FOUND")
    assert post(session["client"], f"/api/v1/conversation/{session['cid']}/complete", {"text": "x"}).status_code == 200


def test_refresh_trades_the_token(session):
    response = post(session["client"], f"/api/v1/conversation/{session['cid']}/session/refresh")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"id", "token", "expiresAt"} and body["id"] == session["cid"]
    assert body["token"] != session["token"] and body["expiresAt"] >= session["expiresAt"]
    assert_error(
        post(session["client"], f"/api/v1/conversation/{session['cid']}/complete", {"text": "x"}),
        401,
        "NOT_AUTHENTICATED",
    )
    fresh = token_client(body["token"])
    assert post(fresh, f"/api/v1/conversation/{session['cid']}/complete", {"text": "x"}).status_code == 200
    new_row = BotSession.objects.get(revoked_at__isnull=True, conversation_id=session["cid"])
    assert new_row.duration_seconds == 3600


def test_refresh_never_goes_beyond_the_lifetime(session):
    BotSession.objects.filter(conversation_id=session["cid"]).update(
        issued_first_at=timezone.now() - timedelta(days=7, seconds=1)
    )
    response = post(session["client"], f"/api/v1/conversation/{session['cid']}/session/refresh")
    assert_error(response, 403, "NOT_AUTHORIZED", "maximum lifetime")
    BotSession.objects.filter(conversation_id=session["cid"]).update(
        issued_first_at=timezone.now() - timedelta(days=7) + timedelta(minutes=10)
    )
    body = post(session["client"], f"/api/v1/conversation/{session['cid']}/session/refresh").json()
    limit = timezone.now() + timedelta(minutes=10)
    assert body["expiresAt"] <= int(limit.timestamp() * 1000) + 1000


def test_refresh_with_owner_secret_is_refused(session, owner_client):
    assert_error(post(owner_client, f"/api/v1/conversation/{session['cid']}/session/refresh"), 401, "NOT_AUTHENTICATED")


def test_conversation_session_create_by_owner_only(session, owner_client, other_client, anon_client):
    url = f"/api/v1/conversation/{session['cid']}/session/create"
    response = post(owner_client, url, {"durationInSeconds": 1800})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"id", "token", "expiresAt"} and body["id"] == session["cid"]
    assert (
        post(token_client(body["token"]), f"/api/v1/conversation/{session['cid']}/complete", {"text": "x"}).status_code
        == 200
    )
    assert_error(post(other_client, url), 404, "NOT_FOUND")
    assert_error(post(anon_client, url), 401, "NOT_AUTHENTICATED")
    assert_error(post(owner_client, url, {"durationInSeconds": 60}), 400, "BAD_REQUEST", "1800")
    assert_error(
        post(owner_client, "/api/v1/conversation/00000000-0000-0000-0000-000000000000/session/create"), 404, "NOT_FOUND"
    )


def test_message_list_for_the_token_and_the_owner(session, owner_client, other_client):
    post(session["client"], f"/api/v1/conversation/{session['cid']}/complete", {"text": "one"})
    post(session["client"], f"/api/v1/conversation/{session['cid']}/complete", {"text": "two"})
    url = f"/api/v1/conversation/{session['cid']}/message/list"
    body = session["client"].get(url).json()
    assert [(m["type"], m["text"]) for m in body["items"]][::2] == [("user", "one"), ("user", "two")]
    item = body["items"][0]
    assert {"id", "type", "text", "createdAt", "updatedAt"} <= set(item)
    assert isinstance(item["createdAt"], int) and isinstance(item["id"], str)
    assert body["cursor"] == body["items"][-1]["id"]
    assert owner_client.get(url).json() == body
    assert_error(other_client.get(url), 404, "NOT_FOUND")


def test_message_list_pages(owner_client, bot):
    conversation = ConversationFactory(bot=bot)
    messages = [MessageFactory(conversation=conversation, text=f"m{n}", meta={"n": str(n % 2)}) for n in range(7)]
    url = f"/api/v1/conversation/{conversation.pk}/message/list"
    first = owner_client.get(url, {"take": 3}).json()
    assert [m["text"] for m in first["items"]] == ["m0", "m1", "m2"]
    second = owner_client.get(url, {"take": 3, "cursor": first["cursor"]}).json()
    assert [m["text"] for m in second["items"]] == ["m3", "m4", "m5"]
    third = owner_client.get(url, {"take": 3, "cursor": second["cursor"]}).json()
    assert [m["text"] for m in third["items"]] == ["m6"]
    empty = owner_client.get(url, {"cursor": third["cursor"]}).json()
    assert empty == {"items": []}
    desc = owner_client.get(url, {"order": "desc", "take": 2}).json()
    assert [m["text"] for m in desc["items"]] == ["m6", "m5"]
    filtered = owner_client.get(url, {"meta.n": "1"}).json()
    assert [m["text"] for m in filtered["items"]] == ["m1", "m3", "m5"]
    assert filtered["items"][0]["meta"] == {"n": "1"}
    assert len(messages) == 7


def _listed(message) -> dict:
    """A message as the ChatBotKit format lists it: keys whose value is undefined left out."""
    item = {"id": str(message.pk), "type": message.type, "text": message.text}
    item.update({key: getattr(message, key) for key in ("name", "description") if getattr(message, key)})
    if message.meta not in (None, "", {}):
        item["meta"] = message.meta
    return {**item, "createdAt": epoch_ms(message.created_at), "updatedAt": epoch_ms(message.updated_at)}


def test_message_list_items_are_the_messages_stored(owner_client, bot):
    """The page is written as JSON text directly, each meta as the database holds it: the items parse to
    the stored messages, every kind of JSON value and awkward text included, on either read of the list."""
    conversation = ConversationFactory(bot=bot)
    messages = [
        MessageFactory(conversation=conversation, text="plain", name="", description="", meta={}),
        MessageFactory(
            conversation=conversation,
            text='quotes " and \\ backslash, tab\t, \x01, naïve ☃ \U0001f600, separators \u2028\u2029',
            name='a "name" ☃',
            description="two\nlines",
            meta={"k": "1", "count": 12345678901234567890123, "ratio": 0.1, "one": 1.0, "none": None, "deep": [{}, []]},
        ),
        MessageFactory(conversation=conversation, text="list meta", meta=[]),
        MessageFactory(conversation=conversation, text="string meta", meta="just a string"),
        MessageFactory(conversation=conversation, text="number meta", meta=0),
        MessageFactory(conversation=conversation, text="line separator in meta", meta={"k": "1", "t": "\u2028"}),
    ]
    for message in messages:
        message.refresh_from_db()
    url = f"/api/v1/conversation/{conversation.pk}/message/list"

    response = owner_client.get(url)
    assert response["Content-Type"] == "application/json"
    assert "\u2028".encode() not in response.content and b"\\u2028" in response.content
    body = json.loads(response.content)
    assert body == {"items": [_listed(message) for message in messages], "cursor": str(messages[-1].pk)}
    assert [type(item.get("meta")) for item in body["items"]] == [type(None), dict, list, str, int, dict]
    assert isinstance(body["items"][1]["meta"]["one"], float)
    # A meta filter reads the list through the ORM instead: the same items.
    filtered = owner_client.get(url, {"meta.k": "1"}).json()
    assert filtered == {"items": [_listed(messages[1]), _listed(messages[5])], "cursor": str(messages[5].pk)}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"take": 0}, "take"),
        ({"take": 101}, "take"),
        ({"take": "x"}, "take"),
        ({"order": "up"}, "order"),
        ({"cursor": "abc"}, "cursor"),
        ({"cursor": "999999"}, "cursor"),
    ],
)
def test_message_list_bad_params_are_400(owner_client, bot, params, field):
    conversation = ConversationFactory(bot=bot)
    response = owner_client.get(f"/api/v1/conversation/{conversation.pk}/message/list", params)
    assert_error(response, 400, "BAD_REQUEST", field)


def test_query_counts_are_constant(session, public_bot, owner_client, django_assert_max_num_queries):
    from bots.services.intent_models import intent_model_build

    intent_model_build(bot_id=public_bot.pk)  # as saving the bot does (a test's transaction never commits)
    url = f"/api/v1/conversation/{session['cid']}/complete"
    # Token lookup, its once-a-minute "last used" update, then one transaction: lock, one insert of both
    # messages, state save; the bot's first message in this process also reads its intent model (once
    # per version).
    with django_assert_max_num_queries(8):
        assert post(session["client"], url, {"text": "first"}).status_code == 200
    with django_assert_max_num_queries(7):
        assert post(session["client"], url, {"text": "second"}).status_code == 200
    Message.objects.bulk_create(
        [Message(conversation_id=session["cid"], type="user", text=f"m{n}", meta={"k": n}) for n in range(120)]
    )
    with django_assert_max_num_queries(4):
        body = session["client"].get(f"/api/v1/conversation/{session['cid']}/message/list").json()
    assert len(body["items"]) == 100
    # The owner's API key lookup and its once-a-minute "last used" update, the conversation, the cursor, the page.
    with django_assert_max_num_queries(5):
        body = owner_client.get(
            f"/api/v1/conversation/{session['cid']}/message/list", {"cursor": body["cursor"]}
        ).json()
    assert len(body["items"]) == 24


def test_jsonl_errors_before_the_stream_are_json(session):
    response = post(
        token_client("bad"),
        f"/api/v1/conversation/{session['cid']}/complete",
        {"text": "x"},
        HTTP_ACCEPT="application/jsonl",
    )
    assert_error(response, 401, "NOT_AUTHENTICATED")


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_completes_store_forty_messages_in_pairs(owner):
    from rest_framework.test import APIClient

    bot = BotFactory(owner=owner, visibility="public", fallback_message="reply")
    session = APIClient().post(f"/api/v1/bot/{bot.pk}/session/create", {}, format="json").json()
    url = f"/api/v1/conversation/{session['conversationId']}/complete"
    barrier = threading.Barrier(20)
    statuses = []

    def complete(n):
        try:
            client = token_client(session["token"])
            barrier.wait(timeout=20)
            statuses.append(client.post(url, {"text": f"question {n}"}, format="json").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=complete, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 20
    messages = list(Message.objects.filter(conversation_id=session["conversationId"]).order_by("id"))
    assert len(messages) == 40
    assert [m.type for m in messages] == ["user", "bot"] * 20
    assert sorted(m.text for m in messages[::2]) == sorted(f"question {n}" for n in range(20))


def test_conversation_session_create_on_an_ended_conversation_is_409(session, owner_client):
    from sessions_app.models import Conversation

    conversation_end(conversation=Conversation.objects.get(pk=session["cid"]))
    response = post(owner_client, f"/api/v1/conversation/{session['cid']}/session/create")
    assert_error(response, 409, "CONFLICT", "ended")


def test_owner_completing_an_ended_conversation_is_409(session, owner_client):
    from sessions_app.models import Conversation

    conversation_end(conversation=Conversation.objects.get(pk=session["cid"]))
    response = post(owner_client, f"/api/v1/conversation/{session['cid']}/complete", {"text": "hi"})
    assert_error(response, 409, "CONFLICT")
    assert not Message.objects.filter(conversation_id=session["cid"]).exists()


def test_a_turn_left_in_progress_by_a_dead_process_is_released_after_the_timeout(session, settings):
    # Two tickets handed out long ago and never served: their processes died.
    stale = timezone.now() - timedelta(seconds=settings.BOTPORTAL["TURN_TIMEOUT"] + 1)
    Conversation.objects.filter(pk=session["cid"]).update(turn_ticket=2, turn_served=0, turn_since=stale)
    response = post(session["client"], f"/api/v1/conversation/{session['cid']}/complete", {"text": "Hello"})
    assert response.status_code == 200, response.content
    conversation = Conversation.objects.get(pk=session["cid"])
    assert conversation.turn_served == conversation.turn_ticket == 2


def test_a_turn_waits_for_the_one_in_progress_then_skips_it_once_stale(session, settings):
    settings.BOTPORTAL = {**settings.BOTPORTAL, "TURN_TIMEOUT": 0.3}
    # A turn in progress right now (claimed by a process that will never finish it).
    Conversation.objects.filter(pk=session["cid"]).update(turn_ticket=1, turn_served=0, turn_since=timezone.now())
    response = post(session["client"], f"/api/v1/conversation/{session['cid']}/complete", {"text": "Hello"})
    assert response.status_code == 200, response.content
    conversation = Conversation.objects.get(pk=session["cid"])
    assert conversation.turn_served == conversation.turn_ticket == 2
    assert list(Message.objects.filter(conversation_id=session["cid"]).values_list("type", flat=True)) == [
        "user",
        "bot",
    ]


@pytest.mark.parametrize("token", ["tok ", 'é "quoted" \\ back\nslash', ""])
def test_a_token_event_is_the_generic_event_byte_for_byte(token, monkeypatch):
    from datetime import UTC, datetime

    from django.utils import timezone

    from sessions_app.protocols.chatbotkit import conversing

    monkeypatch.setattr(timezone, "now", lambda: datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC))
    assert conversing._token_event(token) == conversing._event("token", {"token": token})


@pytest.mark.parametrize("route", ["complete", "receive"])
def test_under_a_sync_server_jsonl_is_sent_as_it_is_produced(session, public_bot, llm_settings, fake_upstream, route):
    # The test client is a sync server, as gunicorn's WSGI workers are: each token goes out while the
    # upstream is still answering, not the whole stream once it is over.
    public_bot.model = "fake/any"
    public_bot.save()
    fake_upstream.config.tokens, fake_upstream.config.interval = 5, 0.2
    if route == "receive":
        post(session["client"], f"/api/v1/conversation/{session['cid']}/send", {"text": "Hi"})
    response = post(
        session["client"],
        f"/api/v1/conversation/{session['cid']}/{route}",
        {"text": "Hi"} if route == "complete" else {},
        HTTP_ACCEPT="application/jsonl",
    )
    assert response.streaming
    chunks = iter(response)
    first = json.loads(next(chunks))
    assert first == {"type": "token", "data": {"token": "tok "}, "createdAt": first["createdAt"]}
    assert fake_upstream.stats()["in_flight"] == 1 and fake_upstream.stats()["completed"] == 0
    rest = [json.loads(line) for chunk in chunks for line in chunk.decode().splitlines() if line.strip()]
    closing = ["message", "usage", *(["receiveResult"] if route == "receive" else []), "result"]
    assert [e["type"] for e in rest] == ["token"] * 4 + closing
    assert rest[-1]["type"] == "result" and rest[-1]["data"]["text"] == "tok " * 5
    assert list(Message.objects.filter(conversation_id=session["cid"]).values_list("type", flat=True))[-2:] == [
        "user", "bot"
    ]  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_under_a_sync_server_a_stream_left_early_gives_its_turn_back(session, public_bot, llm_settings, fake_upstream):
    public_bot.model = "fake/any"
    public_bot.save()
    fake_upstream.config.tokens, fake_upstream.config.interval = 20, 0.1
    response = post(
        session["client"],
        f"/api/v1/conversation/{session['cid']}/complete",
        {"text": "Hi"},
        HTTP_ACCEPT="application/jsonl",
    )
    chunks = iter(response)
    first = json.loads(next(chunks))
    assert first["type"] == "token", first
    response.close()  # what a WSGI server does when the client has gone (the request's connection closed)
    assert fake_upstream.stats()["completed"] == 0
    conversation = Conversation.objects.get(pk=session["cid"])
    assert conversation.turn_served == conversation.turn_ticket
    assert list(Message.objects.filter(conversation_id=session["cid"]).values_list("type", flat=True))[-1] == "user"
