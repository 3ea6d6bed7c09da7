"""Einstein begin and continue answered by a language model, served by the ASGI application."""

import threading
import time

import pytest

from sessions_app.models import Conversation, Message
from sessions_app.services.owners import owner_profile_ensure
from sessions_app.tests.apis.einstein.conftest import begin_body
from tests.streaming.test_turns_over_asgi import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def headers(owner, api_secret):
    return {"Authorization": f"Bearer {api_secret}", "X-Org-Id": owner_profile_ensure(owner=owner).org_id}


def message(text, seq):
    return {"message": {"type": "text", "text": text, "sequenceId": seq}}


def texts(body) -> list[str]:
    return [m.get("text") for m in body["messages"]]


def test_begin_and_continue_answered_by_the_model(http, llm_bot, headers, fake_upstream):
    begun = http.post(f"/v5.0.0/bots/{llm_bot.pk}/sessions", json=begin_body(message={"text": "hello there"}),
                      headers=headers)
    assert begun.status_code == 200, begun.text
    assert texts(begun.json()) == ["tok tok tok "]
    session = begun.json()["sessionId"]
    answered = http.post(f"/v5.0.0/sessions/{session}/messages", json=message("more please", 1), headers=headers)
    assert answered.status_code == 200, answered.text
    assert texts(answered.json()) == ["tok tok tok "] and answered.json()["processedSequenceIds"] == [1]
    assert answered.headers["X-Runtime-CRC"] and answered.headers["X-Request-ID"]
    # The identical retry is answered again, not processed twice.
    again = http.post(f"/v5.0.0/sessions/{session}/messages", json=message("more please", 1), headers=headers)
    assert again.json() == answered.json()
    assert fake_upstream.stats()["requests"] == 2


def test_a_request_while_a_turn_waits_on_the_model_is_busy(http, llm_bot, headers, fake_upstream):
    session = http.post(f"/v5.0.0/bots/{llm_bot.pk}/sessions", json=begin_body(), headers=headers).json()["sessionId"]
    fake_upstream.config.tokens, fake_upstream.config.interval = 10, 0.1
    url = f"/v5.0.0/sessions/{session}/messages"
    first = {}
    waiting = threading.Thread(target=lambda: first.update(r=http.post(url, json=message("slow", 1), headers=headers)))
    waiting.start()
    wait_for(lambda: fake_upstream.stats()["in_flight"] == 1)
    for body in (message("slow", 1), message("other", 2)):  # the same request retried, and the next one
        busy = http.post(url, json=body, headers=headers)
        assert busy.status_code == 423 and busy.json()["error"] == "ServerBusyError"
    waiting.join(20)
    assert first["r"].status_code == 200 and texts(first["r"].json()) == ["tok " * 10]
    assert http.post(url, json=message("other", 2), headers=headers).status_code == 200


def test_a_failing_model_fails_the_turn_and_the_same_request_can_be_sent_again(
    http, llm_bot, headers, fake_upstream, llm_settings
):
    llm_settings.BOTPORTAL["LLM_PROVIDERS"]["fake"]["timeout"] = 0.5
    session = http.post(f"/v5.0.0/bots/{llm_bot.pk}/sessions", json=begin_body(), headers=headers).json()["sessionId"]
    url = f"/v5.0.0/sessions/{session}/messages"
    fake_upstream.config.mode = "hang"
    started = time.monotonic()
    failed = http.post(url, json=message("hello there", 1), headers=headers)
    assert time.monotonic() - started < 5
    assert failed.status_code == 504 and set(failed.json()) >= {"status", "error", "message"}, failed.text
    fake_upstream.config.mode = "ok"
    llm_settings.BOTPORTAL["LLM_PROVIDERS"]["fake"]["timeout"] = 10  # the retry is checked for working, not speed
    retried = http.post(url, json=message("hello there", 1), headers=headers)
    assert retried.status_code == 200 and texts(retried.json()) == ["tok tok tok "], retried.text


def test_a_begin_whose_model_fails_leaves_nothing(http, llm_bot, headers, fake_upstream):
    fake_upstream.config.mode = "error"
    failed = http.post(f"/v5.0.0/bots/{llm_bot.pk}/sessions", json=begin_body(message={"text": "hello there"}),
                       headers=headers)
    assert failed.status_code == 502 and failed.json()["error"] == "RequestProcessingException", failed.text
    assert not Conversation.objects.exists() and not Message.objects.exists()
