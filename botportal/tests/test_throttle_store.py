"""The throttles' counts: DRF's rate rule kept exactly, on whatever cache is configured (local memory by
default, Redis with REDIS_URL, where one script per count makes it atomic and one round trip)."""

import threading
import uuid

import pytest
import redis
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from botportal.api.throttles import FailedAuthenticationThrottle, RateThrottle
from sessions_app.tests.apis.helpers import post, token_client

on_redis = pytest.mark.skipif(
    not isinstance(caches["default"], RedisCache), reason="the atomic scripts are Redis's (REDIS_URL)"
)


class Clocked(RateThrottle):
    scope = "test_clocked"
    rate = "3/minute"
    now_at = 0.0
    ident = ""

    @staticmethod
    def timer():
        return Clocked.now_at

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.ident}


@pytest.fixture
def redis_commands(monkeypatch):
    """The name of each command sent to Redis from now on, in order."""
    commands = []
    real = redis.Redis.execute_command

    def counted(self, *args, **kwargs):
        commands.append(args[0])
        return real(self, *args, **kwargs)

    monkeypatch.setattr(redis.Redis, "execute_command", counted)
    return commands


def test_the_rate_rule_is_drfs_own(monkeypatch):
    monkeypatch.setattr(Clocked, "ident", uuid.uuid4().hex)

    def at(instant):
        Clocked.now_at = instant
        throttle = Clocked()
        return throttle.allow_request(None, None), throttle.wait()

    assert at(1000.0)[0] and at(1001.0)[0] and at(1002.0)[0]
    allowed, wait = at(1003.0)
    assert not allowed
    assert wait == pytest.approx(57.0)  # DRF's: until the oldest entry leaves the minute
    assert not at(1059.9)[0]  # refused requests are not counted...
    assert at(1060.0)[0]  # ...so the oldest entry's leaving lets exactly one more in
    assert not at(1060.5)[0]
    assert at(1061.0)[0]
    assert at(1062.0)[0]
    allowed, wait = at(1062.5)
    assert not allowed
    assert wait == pytest.approx(60 - (1062.5 - 1060.0))


@on_redis
def test_parallel_requests_of_one_bucket_get_no_more_than_the_rate(monkeypatch):
    monkeypatch.setattr(Clocked, "ident", uuid.uuid4().hex)
    monkeypatch.setattr(Clocked, "rate", "30/minute")
    monkeypatch.setattr(Clocked, "now_at", 5000.0)
    threads_count, per_thread = 20, 5
    barrier = threading.Barrier(threads_count)
    allowed, lock = [], threading.Lock()

    def client():
        barrier.wait(timeout=10)
        for _ in range(per_thread):
            result = Clocked().allow_request(None, None)
            with lock:
                allowed.append(result)

    threads = [threading.Thread(target=client) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    # DRF's GET-then-SET of the history lets requests that read it at the same time overwrite each other.
    assert len(allowed) == threads_count * per_thread
    assert allowed.count(True) == 30


@on_redis
def test_the_failed_authentication_counter_is_readable_by_the_cache(rf, monkeypatch):
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"failed_auth": "5/minute"})
    monkeypatch.setattr(FailedAuthenticationThrottle, "timer", staticmethod(lambda: 6030.0))
    request = rf.get("/", REMOTE_ADDR="198.51.100.20")
    for _ in range(3):
        assert FailedAuthenticationThrottle().attempt_begin(request) is None
    guard = FailedAuthenticationThrottle()
    assert guard.attempt_begin(request) is None
    guard.attempt_release()
    assert caches["default"].get("throttle_failed_auth_198.51.100.20:100") == 3


@on_redis
@pytest.mark.django_db
def test_a_session_token_request_makes_two_round_trips_to_redis(public_bot, redis_commands):
    opened = post(APIClient(), f"/api/v1/bot/{public_bot.pk}/session/create").json()
    redis_commands.clear()  # only the token request's are counted
    response = token_client(opened["token"]).get(f"/api/v1/conversation/{opened['conversationId']}/message/list")
    assert response.status_code == 200, response.content
    # The failed-authentication slot taken, then the conversation's rate in the script that gives it back.
    assert len(redis_commands) == 2, redis_commands


@on_redis
def test_a_history_left_by_drfs_own_throttle_is_no_error(monkeypatch):
    """During a rolling deploy, processes of the previous code keep DRF's pickled history under the
    history's key; the log is another key, so neither reads the other's value (WRONGTYPE)."""
    monkeypatch.setattr(Clocked, "ident", uuid.uuid4().hex)
    Clocked.now_at = 7000.0
    history_key = Clocked().get_cache_key(None, None)
    caches["default"].set(history_key, [6999.0], 60)
    assert Clocked().allow_request(None, None)
    assert caches["default"].get(history_key) == [6999.0]


@on_redis
@pytest.mark.django_db
def test_a_public_session_create_decides_both_its_limits_in_one_round_trip(public_bot, redis_commands):
    assert post(APIClient(), f"/api/v1/bot/{public_bot.pk}/session/create").status_code == 200
    assert len(redis_commands) == 1, redis_commands  # the per-IP and the per-bot logs, in one script


def test_every_throttle_counts_the_request_even_when_another_refuses(monkeypatch):
    class Strict(Clocked):
        rate = "1/minute"
        ident = uuid.uuid4().hex

    monkeypatch.setattr(Clocked, "ident", uuid.uuid4().hex)
    Clocked.now_at = 9000.0
    from botportal.api.throttles import throttles_refusing

    assert throttles_refusing([Strict(), Clocked()], None, None) == []
    for _ in range(2):
        assert [type(t) for t in throttles_refusing([Strict(), Clocked()], None, None)] == [Strict]
    # Clocked (3/minute) counted the two that Strict refused.
    assert [type(t) for t in throttles_refusing([Strict(), Clocked()], None, None)] == [Strict, Clocked]
