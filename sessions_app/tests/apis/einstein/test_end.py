from datetime import timedelta

import pytest
from django.utils import timezone

from sessions_app.models import Conversation

pytestmark = pytest.mark.django_db


@pytest.fixture
def session_id(einstein, bot):
    return einstein.begin(bot).json()["sessionId"]


@pytest.mark.parametrize("reason", ["UserRequest", "Transfer", "Expiration", "Error", "Other"])
def test_end_answers_session_ended_and_records_the_reason(einstein, session_id, reason):
    response = einstein.end(session_id, reason=reason, headers={"X-Request-ID": "end-1"})
    assert response.status_code == 200
    body = response.json()
    assert [(m["type"], m["reason"]) for m in body["messages"]] == [("sessionEnded", "ClientRequest")]
    assert body["botVersion"] == "1" and response["X-Request-ID"] == "end-1" and response["X-Runtime-CRC"]
    conversation = Conversation.objects.get(pk=session_id)
    assert conversation.end_reason == reason and conversation.ended_at is not None


def test_further_requests_for_an_ended_session_are_404_saying_it_ended(einstein, session_id):
    einstein.end(session_id)
    again = einstein.end(session_id)
    assert again.status_code == 404 and "ended" in again.json()["message"]
    message = einstein.send(session_id, {"type": "text", "text": "hi", "sequenceId": 1})
    assert message.status_code == 404 and "ended" in message.json()["message"]


@pytest.mark.parametrize("reason", [None, "", "Bored"])
def test_the_end_reason_header_is_required_and_checked(einstein, session_id, reason):
    headers = {"X-Session-End-Reason": reason}
    response = einstein.delete(f"/v5.0.0/sessions/{session_id}", headers=headers)
    assert response.status_code == 400 and "X-Session-End-Reason" in response.json()["message"]
    assert Conversation.objects.get(pk=session_id).ended_at is None


def test_only_the_owner_with_its_org_id_may_end(einstein, einstein_other, einstein_anon, session_id):
    assert einstein_other.end(session_id).status_code == 404
    assert einstein_anon.end(session_id).status_code == 401
    assert einstein.end(session_id, headers={"X-Org-Id": "00Dx0000000ALskEAG"}).status_code == 404
    assert Conversation.objects.get(pk=session_id).ended_at is None


def test_ending_an_idle_session_finds_it_already_expired(einstein, session_id, settings):
    Conversation.objects.filter(pk=session_id).update(
        last_activity_at=timezone.now() - timedelta(seconds=settings.BOTPORTAL["IDLE_TIMEOUT"] + 1)
    )
    response = einstein.end(session_id)
    assert response.status_code == 404 and "Expiration" in response.json()["message"]
    assert Conversation.objects.get(pk=session_id).end_reason == "Expiration"
