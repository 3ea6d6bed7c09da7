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
