"""The cache: on Redis, one connection pool per process, whichever request's cache object asks."""

import contextvars

import pytest
from django.conf import settings
from django.core.cache import caches

from botportal.cache import RedisCache

on_redis = pytest.mark.skipif(
    not settings.CACHES["default"]["BACKEND"].endswith("RedisCache"), reason="Redis's pools (REDIS_URL)"
)


@on_redis
def test_redis_urls_get_the_shared_pools_backend():
    assert settings.CACHES["default"]["BACKEND"] == "botportal.cache.RedisCache"
    assert isinstance(caches["default"], RedisCache)


@on_redis
def test_requests_cache_objects_share_one_connection_pool():
    # Django gives each asyncio context a cache object of its own, as each ASGI request has one.
    first, second = (contextvars.Context().run(lambda: caches["default"]) for _ in range(2))
    assert first is not second
    assert first._cache._get_connection_pool(True) is second._cache._get_connection_pool(True)
    first.set("botportal-test-pool", 1, 5)
    assert second.get("botportal-test-pool") == 1


@on_redis
def test_requests_cache_objects_share_one_client_of_their_pool():
    # Django builds a redis.Redis for every command; one per pool serves them all.
    first, second = (contextvars.Context().run(lambda: caches["default"]) for _ in range(2))
    assert first._cache is second._cache
    client = first._cache.get_client(write=True)
    assert second._cache.get_client(write=True) is client
    assert client.connection_pool is first._cache._get_connection_pool(True)
    assert client.connection is None  # no connection of its own: each command borrows one from the pool


@on_redis
@pytest.mark.parametrize("pool_class", ["redis.BlockingConnectionPool", "redis.ConnectionPool"])
def test_more_threads_than_the_pool_has_connections_wait_for_one_rather_than_fail(pool_class):
    """Every thread of a process shares the pool (a few hundred visitors arriving together are as many
    request threads): past its size a thread waits for a connection to come back. redis-py's plain pool,
    as a contrast, refuses the thread at once."""
    import threading

    options = {**settings.CACHES["default"]["OPTIONS"], "max_connections": 4, "pool_class": pool_class}
    if pool_class == "redis.ConnectionPool":
        options.pop("timeout")
    cache = RedisCache(settings.CACHES["default"]["LOCATION"], {"OPTIONS": options})
    failures, start = [], threading.Barrier(40)

    def count():
        start.wait()
        try:
            for _ in range(5):
                cache.add("botportal-test-threads", 0, 30)
                cache.incr("botportal-test-threads")
        except Exception as exc:  # noqa: BLE001 (what the test looks for)
            failures.append(type(exc).__name__)

    cache.delete("botportal-test-threads")
    threads = [threading.Thread(target=count) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    if pool_class == settings.CACHES["default"]["OPTIONS"]["pool_class"]:
        assert failures == [] and cache.get("botportal-test-threads") == 200
    else:
        assert "MaxConnectionsError" in failures
