"""Parallel requests: each thread has its own database connection, as gunicorn workers do.

No lost or duplicated message, no 5xx, no deadlock (every thread finishes within its timeout).
"""

import threading
from collections import Counter

import pytest
from django.db import connection
from rest_framework.test import APIClient

from bots.tests.factories import BotFactory
from sessions_app.models import BotSession, Contact, Conversation, Message
from sessions_app.protocols.einstein.models import EinsteinSession
from sessions_app.services.owners import owner_profile_ensure
from sessions_app.tests.apis.einstein.conftest import begin_body
from tests.throttle_rates import rates_set

# PostgreSQL is what these are about (row locks, one connection per thread); they also run on SQLite,
# whose file database with IMMEDIATE transactions serialises writers the same way.
pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 8
JOIN_TIMEOUT = 60


@pytest.fixture(autouse=True)
def _generous_rates(monkeypatch):
    rates_set(monkeypatch, "100000/minute")


def run_parallel(count: int, work) -> list:
    """Run work(i) on `count` threads released together; their results in order. Fails on a hang."""
    barrier = threading.Barrier(count)
    results: list = [None] * count
    errors: list = []

    def target(index):
        try:
            barrier.wait(timeout=10)
            results[index] = work(index)
        except Exception as exc:  # noqa: BLE001 (reported below with the thread's index)
            errors.append((index, exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), "a request never finished (deadlock?)"
    assert not errors, errors
    return results


def client(secret: str | None = None) -> APIClient:
    api = APIClient(raise_request_exception=False)
    if secret:
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return api


def test_parallel_completes_on_one_conversation_keep_every_turn(owner):
    bot = BotFactory(owner=owner, visibility="public")
    opened = client().post(f"/api/v1/bot/{bot.pk}/session/create", {}, format="json").json()
    path = f"/api/v1/conversation/{opened['conversationId']}/complete"

    def complete(index):
        response = client(opened["token"]).post(path, {"text": f"question {index}"}, format="json")
        return response.status_code, response.json()

    results = run_parallel(THREADS, complete)
    assert [status for status, _ in results] == [200] * THREADS, results
    messages = list(
        Message.objects.filter(conversation_id=opened["conversationId"])
        .order_by("id")
        .values_list("type", "text", "id")
    )
    user_texts = [text for kind, text, _ in messages if kind == "user"]
    assert Counter(user_texts) == Counter(f"question {i}" for i in range(THREADS))
    # Turns were taken one at a time: each question is followed by its own answer.
    kinds = [kind for kind, _, _ in messages]
    assert kinds == ["user", "bot"] * THREADS, kinds
    answered = {body["id"] for _, body in results}
    assert answered == {str(pk) for kind, _, pk in messages if kind == "bot"}


def test_parallel_session_creates_with_one_contact_make_one_contact(owner):
    bot = BotFactory(owner=owner, visibility="public")
    contact = {"email": "Visitor@Example.com", "phone": "+14155552671", "name": "Visitor"}

    def create(index):
        response = client().post(
            f"/api/v1/bot/{bot.pk}/session/create",
            {"contact": contact, "messages": [{"type": "user", "text": f"hello {index}"}]},
            format="json",
        )
        return response.status_code, response.json()

    results = run_parallel(THREADS, create)
    assert [status for status, _ in results] == [200] * THREADS, results
    assert Contact.objects.filter(owner=owner).count() == 1
    only = Contact.objects.get(owner=owner)
    conversations = Conversation.objects.filter(bot=bot)
    assert conversations.count() == THREADS
    assert set(conversations.values_list("contact_id", flat=True)) == {only.pk}
    assert BotSession.objects.filter(conversation__bot=bot).count() == THREADS
    assert Message.objects.filter(conversation__bot=bot, type="user").count() == THREADS


def test_parallel_einstein_turns_are_processed_once_or_refused_as_busy(owner, api_secret):
    bot = BotFactory(owner=owner)
    org_id = owner_profile_ensure(owner=owner).org_id
    headers = {"HTTP_X_ORG_ID": org_id}
    begun = client(api_secret).post(f"/v5.0.0/bots/{bot.pk}/sessions", begin_body(), format="json", **headers)
    assert begun.status_code == 200, begun.content
    session_id = begun.json()["sessionId"]

    def turn(index):
        response = client(api_secret).post(
            f"/v5.0.0/sessions/{session_id}/messages",
            {"message": {"type": "text", "sequenceId": index + 1, "text": f"turn {index}"}},
            format="json",
            **headers,
        )
        return response.status_code, response.json()

    results = run_parallel(THREADS, turn)
    statuses = Counter(status for status, _ in results)
    # A turn is processed (200), refused while another runs (423 ServerBusyError), or refused because a
    # later sequenceId was processed first (400): never a 5xx.
    assert set(statuses) <= {200, 400, 423}, results
    assert statuses[200] >= 1
    for status, body in results:
        if status != 200:
            assert body["error"] == {400: "BadRequestError", 423: "ServerBusyError"}[status]
    processed = sorted(index for index, (status, _) in enumerate(results) if status == 200)
    stored = list(
        Message.objects.filter(conversation_id=session_id, type="user").order_by("id").values_list("text", flat=True)
    )
    # Exactly the accepted turns are stored, once each, in increasing sequenceId order.
    assert stored == [f"turn {index}" for index in processed]
    assert EinsteinSession.objects.get(pk=session_id).last_sequence_id == processed[-1] + 1
