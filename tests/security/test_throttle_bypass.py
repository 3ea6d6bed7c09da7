"""Limits an attacker must not get around: refreshing tokens, or sending bad credentials in parallel.

The parallel test runs on whatever cache is configured: local memory by default, Redis with REDIS_URL
(what production runs, and where these counts are shared between processes).
"""

import threading
import time

import pytest
from django.db import connection
from rest_framework.test import APIClient

from botportal.api.throttles import FailedAuthenticationThrottle
from sessions_app.access import authentication
from sessions_app.tests.apis.helpers import assert_error, post, token_client
from tests.throttle_rates import rates_set

HIGH = "100000/minute"


@pytest.fixture
def rates(monkeypatch):
    def apply(**overrides):
        rates_set(monkeypatch, HIGH, **overrides)

    return apply


@pytest.mark.django_db
def test_refreshing_the_token_does_not_reset_the_conversations_request_count(rates, public_bot):
    rates(session_token="3/minute")
    opened = post(APIClient(), f"/api/v1/bot/{public_bot.pk}/session/create").json()
    cid, token = opened["conversationId"], opened["token"]
    path = f"/api/v1/conversation/{cid}/complete"
    assert post(token_client(token), path, {"text": "one"}).status_code == 200
    assert post(token_client(token), path, {"text": "two"}).status_code == 200
    refreshed = post(token_client(token), f"/api/v1/conversation/{cid}/session/refresh")
    assert refreshed.status_code == 200, refreshed.content
    # The refresh was the third request; the fresh token belongs to the same conversation's count.
    assert_error(post(token_client(refreshed.json()["token"]), path, {"text": "three"}), 429, "TOO_MANY_REQUESTS")


@pytest.mark.django_db
def test_a_second_token_of_the_same_conversation_shares_its_count(rates, owner_client, bot):
    rates(session_token="2/minute")
    opened = post(owner_client, f"/api/v1/bot/{bot.pk}/session/create").json()
    cid = opened["conversationId"]
    second = post(owner_client, f"/api/v1/conversation/{cid}/session/create").json()["token"]
    path = f"/api/v1/conversation/{cid}/complete"
    assert post(token_client(opened["token"]), path, {"text": "one"}).status_code == 200
    assert post(token_client(second), path, {"text": "two"}).status_code == 200
    assert_error(post(token_client(second), path, {"text": "three"}), 429, "TOO_MANY_REQUESTS")


@pytest.mark.django_db(transaction=True)
def test_parallel_bad_secrets_get_no_more_checks_than_the_limit(rates, monkeypatch):
    rates(failed_auth="30/minute")
    checks, lock = [0], threading.Lock()
    real_check = authentication._live_secret_owner

    def counted(secret):
        with lock:
            checks[0] += 1
        return real_check(secret)

    monkeypatch.setattr(authentication, "_live_secret_owner", counted)
    # One instant for the whole test, so that every attempt falls in the same window.
    instant = time.time()
    monkeypatch.setattr(FailedAuthenticationThrottle, "timer", staticmethod(lambda: instant))
    threads_count, per_thread = 30, 10
    barrier = threading.Barrier(threads_count)
    statuses, errors = [], []

    def attacker(index):
        try:
            client = APIClient(REMOTE_ADDR="198.51.100.7")
            client.credentials(HTTP_AUTHORIZATION=f"Bearer sk-{'x' * 43}{index:03d}")
            barrier.wait(timeout=10)
            for _ in range(per_thread):
                response = client.get("/api/v1/bot/list")
                with lock:
                    statuses.append(response.status_code)
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=attacker, args=(i,)) for i in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert len(statuses) == threads_count * per_thread
    assert set(statuses) <= {401, 429}
    assert checks[0] <= 30, f"{checks[0]} credential checks in a window limited to 30"
    assert statuses.count(401) == checks[0]


def test_the_previous_windows_failures_still_count_as_they_slide_out(rates, monkeypatch, rf):
    rates(failed_auth="10/minute")
    clock = [6000.0]  # the start of a window
    monkeypatch.setattr(FailedAuthenticationThrottle, "timer", staticmethod(lambda: clock[0]))
    request = rf.get("/", REMOTE_ADDR="198.51.100.8")

    def attempt_fails() -> bool:
        return FailedAuthenticationThrottle().attempt_begin(request) is None

    assert all(attempt_fails() for _ in range(10))
    assert not attempt_fails()
    clock[0] += 60 + 15  # a quarter into the next window: three quarters of 10 still weigh in
    allowed = sum(attempt_fails() for _ in range(10))
    assert allowed == 2
    # 10 * (60 - elapsed) / 60 + 3 <= 10 from 18 s into the window: 3 s from now.
    assert FailedAuthenticationThrottle().attempt_begin(request) == pytest.approx(3)
    clock[0] += 60  # a window later, only the 2 of the window before weigh in (three quarters of them)
    assert sum(attempt_fails() for _ in range(12)) == 8


def test_good_credentials_give_their_slot_back(rates, rf):
    rates(failed_auth="2/minute")
    request = rf.get("/", REMOTE_ADDR="198.51.100.9")
    for _ in range(5):
        guard = FailedAuthenticationThrottle()
        assert guard.attempt_begin(request) is None
        guard.attempt_release()
    assert FailedAuthenticationThrottle().attempt_begin(request) is None
    assert FailedAuthenticationThrottle().attempt_begin(request) is None
    assert FailedAuthenticationThrottle().attempt_begin(request) is not None
