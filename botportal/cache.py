"""Django's Redis cache with one connection pool per process and server.

Django keeps its caches per asyncio context, not per thread (`CacheHandler.thread_critical` is False),
and each cache object makes its own connection pools: under ASGI every request got a new cache object,
so a new pool and a new TCP connection to Redis (with its HELLO and CLIENT SETINFO round trips) for
its first cache call, a fifth of a session create's time in a profile. Here the cache objects of one
process share their pools (redis-py's pools are thread-safe, and reset themselves in a forked child),
so a request borrows a connection already open. Everything else is Django's own backend.
"""

import threading

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient

_pools: dict = {}
_pools_lock = threading.Lock()


class SharedPoolsRedisCacheClient(RedisCacheClient):
    def _get_connection_pool(self, write):
        index = self._get_connection_pool_index(write)
        key = (self._servers[index], self._pool_class, repr(sorted(self._pool_options.items(), key=repr)))
        pool = _pools.get(key)
        if pool is None:
            with _pools_lock:
                pool = _pools.get(key)
                if pool is None:
                    pool = _pools[key] = self._pool_class.from_url(self._servers[index], **self._pool_options)
        return pool


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = SharedPoolsRedisCacheClient
