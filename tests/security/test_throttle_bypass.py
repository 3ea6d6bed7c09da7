"""Limits an attacker must not get around: refreshing tokens, or sending bad credentials in parallel.

The parallel test runs on whatever cache is configured: local memory by default, Redis with REDIS_URL
(what production runs, and where these counts are shared between processes).
"""

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from sessions_app.api import authentication
from sessions_app.tests.apis.helpers import assert_error, post, token_client

HIGH = "100000/minute"


@pytest.fixture
def rates(monkeypatch):
    def apply(**overrides):
        values = dict.fromkeys(
            ("session_create_ip", "session_create_bot", "session_token", "api_secret", "failed_auth"), HIGH
        )
        monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {**values, **overrides})

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
