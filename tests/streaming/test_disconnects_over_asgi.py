"""A client that goes away while botportal.asgi is still serving its request, driven message by message.

The client's `http.disconnect` arrives once the view's database phase has started in its thread and
before that phase has read the body: Django's ASGI handler then cancels the request and closes the body
file. What is checked: nothing is logged as an error (no 500 is made), the phase's writes are whole, and
a turn it claimed is handed on at once rather than after TURN_TIMEOUT.
"""

import asyncio
import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import wraps

import pytest
from django.conf import settings

from sessions_app.models import BotSession, Conversation, Message
from sessions_app.protocols.chatbotkit import conversing
from sessions_app.services.sessions import bot_session_create

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _connections_given_back():
    # The phases' threads keep no connection open when the test database is dropped.
    database = settings.DATABASES["default"]
    max_age = database.get("CONN_MAX_AGE", 0)
    database["CONN_MAX_AGE"] = 0
    yield
    database["CONN_MAX_AGE"] = max_age


def _scope(path: str, body: bytes, token: str | None = None, extra: dict | None = None) -> dict:
    headers = [(b"host", b"127.0.0.1"), (b"content-type", b"application/json")]
    headers += [(name.lower().encode(), value.encode()) for name, value in (extra or {}).items()]
    headers.append((b"content-length", str(len(body)).encode()))
    if token is not None:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "headers": headers,
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80),
    }  # fmt: skip


def left_mid_request(
    monkeypatch, hooked: str, path: str, body: dict, token: str | None = None, *, module=conversing, headers=None
) -> list[dict]:
    """Serve one request through botportal.asgi whose client disconnects while `module.<hooked>` (called
    in the view's thread before the body is read) runs; returns what was sent to the client."""
    from botportal.asgi import application

    original = getattr(module, hooked)
    in_view, app_returned, view_done = threading.Event(), threading.Event(), threading.Event()

    @wraps(original)
    def hook(*args, **kwargs):
        try:
            in_view.set()
            # Unfixed, Django closes the body as soon as the request is cancelled; fixed, it waits for
            # this thread, and the wait ends by its timeout.
            app_returned.wait(1)
            return original(*args, **kwargs)
        finally:
            view_done.set()

    monkeypatch.setattr(module, hooked, hook)
    raw = json.dumps(body).encode()
    sent: list[dict] = []

    async def serve():
        given = False

        async def receive():
            nonlocal given
            if not given:
                given = True
                return {"type": "http.request", "body": raw, "more_body": False}
            while not in_view.is_set():
                await asyncio.sleep(0.005)
            return {"type": "http.disconnect"}

        async def send(message):
            sent.append(message)

        await application(_scope(path, raw, token, headers), receive, send)
        app_returned.set()
        # What a request leaves behind runs on this loop (a claim's release): give it its time.
        for _ in range(100):
            await asyncio.sleep(0.01)
            if all(task.done() for task in asyncio.all_tasks() if task is not asyncio.current_task()):
                break

    # On a thread of its own: the browser tests keep an event loop running on the main thread.
    with ThreadPoolExecutor(1) as executor:
        executor.submit(asyncio.run, serve()).result()
    assert view_done.wait(10)
    return sent


def _session(bot):
    # On a thread of its own, as the requests' phases are: the browser tests keep an event loop running
    # on the main thread, where the commit's notices (async_to_sync) would refuse to run.
    with ThreadPoolExecutor(1) as executor:
        return executor.submit(bot_session_create, bot=bot, actor=None).result()


def _errors(caplog) -> list[str]:
    return [f"{r.name}: {r.getMessage()} {r.exc_info}" for r in caplog.records if r.levelno >= logging.ERROR]


def _statuses(sent) -> list[int]:
    return [m["status"] for m in sent if m["type"] == "http.response.start"]


def test_a_session_create_whose_client_left_logs_no_error_and_is_whole(monkeypatch, caplog, public_bot):
    sent = left_mid_request(
        monkeypatch, "presented_session", f"/api/v1/bot/{public_bot.pk}/session/create", {"meta": {"a": "b"}}
    )
    assert _errors(caplog) == []
    assert 500 not in _statuses(sent)
    # The body was read whole (its meta is stored), and the conversation has its session token.
    conversation = Conversation.objects.get(bot=public_bot)
    assert conversation.meta == {"a": "b"}
    assert BotSession.objects.filter(conversation=conversation).count() == 1


def test_a_complete_whose_client_left_logs_no_error_and_answers_the_turn_whole(monkeypatch, caplog, public_bot):
    opened = _session(public_bot)
    cid = opened.conversation.pk
    sent = left_mid_request(
        monkeypatch, "conversation_for", f"/api/v1/conversation/{cid}/complete", {"text": "hi"}, opened.issued.token
    )
    assert _errors(caplog) == []
    assert 500 not in _statuses(sent)
    kinds = list(Message.objects.filter(conversation_id=cid).order_by("id").values_list("type", "text"))
    assert kinds[-2:] == [("user", "hi"), ("bot", public_bot.fallback_message)]
    conversation = Conversation.objects.get(pk=cid)
    assert conversation.turn_served == conversation.turn_ticket


def test_a_turn_claimed_for_a_client_that_left_is_handed_on_at_once(
    monkeypatch, caplog, llm_bot, fake_upstream, llm_settings
):
    llm_settings.BOTPORTAL["TURN_TIMEOUT"] = 600
    opened = _session(llm_bot)
    cid = opened.conversation.pk
    left_mid_request(
        monkeypatch, "conversation_for", f"/api/v1/conversation/{cid}/complete",
        {"text": "hello there"}, opened.issued.token,
    )  # fmt: skip
    assert _errors(caplog) == []
    # The claim's phase ran to its end: the message is stored and waits for a reply, and the turn is
    # not held by a request that is gone (the next one would wait TURN_TIMEOUT for it).
    assert list(Message.objects.filter(conversation_id=cid).values_list("type", "text")) == [("user", "hello there")]
    conversation = Conversation.objects.get(pk=cid)
    assert conversation.turn_ticket == 1 and conversation.turn_served == 1
    assert fake_upstream.stats()["requests"] == 0


def test_a_send_whose_client_left_logs_no_error_and_stores_the_message(monkeypatch, caplog, public_bot):
    # A plain sync view: Django runs it in a thread of its own, which it does not wait for when the
    # request is cancelled; the body is the request's own by then (botportal.middleware).
    opened = _session(public_bot)
    cid = opened.conversation.pk
    left_mid_request(
        monkeypatch, "conversation_for", f"/api/v1/conversation/{cid}/send", {"text": "later"}, opened.issued.token
    )
    assert _errors(caplog) == []
    assert Message.objects.filter(conversation_id=cid).order_by("id").last().text == "later"


def test_an_einstein_turn_claimed_for_a_client_that_left_gives_its_sequence_id_back(
    monkeypatch, caplog, llm_bot, fake_upstream, llm_settings, owner, api_secret, http
):
    from sessions_app.protocols.einstein import views as einstein_views
    from sessions_app.services.owners import owner_profile_ensure
    from sessions_app.tests.apis.einstein.conftest import begin_body

    llm_settings.BOTPORTAL["TURN_TIMEOUT"] = 600
    headers = {"Authorization": f"Bearer {api_secret}", "X-Org-Id": owner_profile_ensure(owner=owner).org_id}
    begun = http.post(f"/v5.0.0/bots/{llm_bot.pk}/sessions", json=begin_body(), headers=headers)
    session = begun.json()["sessionId"]
    turn = {"message": {"type": "text", "text": "hello there", "sequenceId": 1}}
    left_mid_request(
        monkeypatch, "runtime_session_get", f"/v5.0.0/sessions/{session}/messages", turn,
        module=einstein_views, headers=headers,
    )  # fmt: skip
    assert _errors(caplog) == []
    conversation = Conversation.objects.get(pk=session)
    assert conversation.turn_ticket == conversation.turn_served
    # The client sends its turn again, as the protocol has it, and it is answered.
    monkeypatch.undo()
    again = http.post(f"/v5.0.0/sessions/{session}/messages", json=turn, headers=headers)
    assert again.status_code == 200, again.text
    assert [m.get("text") for m in again.json()["messages"]] == ["tok tok tok "]


def test_an_einstein_begin_whose_client_left_before_its_first_answer_leaves_no_session(
    monkeypatch, caplog, llm_bot, fake_upstream, llm_settings, owner, api_secret
):
    from sessions_app.protocols.einstein import views as einstein_views
    from sessions_app.services.owners import owner_profile_ensure
    from sessions_app.tests.apis.einstein.conftest import begin_body

    headers = {"Authorization": f"Bearer {api_secret}", "X-Org-Id": owner_profile_ensure(owner=owner).org_id}
    left_mid_request(
        monkeypatch, "runtime_bot_get", f"/v5.0.0/bots/{llm_bot.pk}/sessions",
        begin_body(message={"text": "hello there"}), module=einstein_views, headers=headers,
    )  # fmt: skip
    assert _errors(caplog) == []
    # The client never learnt the session's id: it is removed, as a begin that failed is.
    assert not Conversation.all_objects.filter(bot=llm_bot).exists()
    assert fake_upstream.stats()["requests"] == 0
