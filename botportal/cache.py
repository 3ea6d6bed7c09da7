"""Django's Redis cache with one connection pool, and one client, per process and server.

Django keeps its caches per asyncio context, not per thread (`CacheHandler.thread_critical` is False),
and each cache object makes its own connection pools: under ASGI every request got a new cache object,
so a new pool and a new TCP connection to Redis (with its HELLO and CLIENT SETINFO round trips) for
its first cache call, a fifth of a session create's time in a profile. Here the cache objects of one
process share their pools (redis-py's pools are thread-safe, and reset themselves in a forked child),
so a request borrows a connection already open.

They share the rest as well: Django builds a `RedisCacheClient` for each cache object (each request)
and a new `redis.Redis` for every command, and building one (its response callbacks, its event
dispatcher) cost as much CPU as a throttle's whole script in a profile. A cache object of the same
servers and options now gets the process's one client, which hands out one `redis.Redis` per pool: a
`redis.Redis` holds no connection of its own between commands, and redis-py's clients are safe to
share between threads. Everything else is Django's own backend.
"""

import threading

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient
from django.utils.functional import cached_property

_pools: dict = {}
_clients: dict = {}
_pools_lock = threading.Lock()


class SharedPoolsRedisCacheClient(RedisCacheClient):
    def __init__(self, servers, **options):
        super().__init__(servers, **options)
        self._redis_by_index: dict = {}

    def _pool(self, index):
        key = (self._servers[index], self._pool_class, repr(sorted(self._pool_options.items(), key=repr)))
        pool = _pools.get(key)
        if pool is None:
            with _pools_lock:
                pool = _pools.get(key)
                if pool is None:
                    pool = _pools[key] = self._pool_class.from_url(self._servers[index], **self._pool_options)
        return pool

    def _get_connection_pool(self, write):
        return self._pool(self._get_connection_pool_index(write))

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._redis_by_index.get(index)
        if client is None:
            # setdefault is atomic: threads racing here all keep the first client made.
            client = self._redis_by_index.setdefault(index, self._client(connection_pool=self._pool(index)))
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = SharedPoolsRedisCacheClient

    @cached_property
    def _cache(self):
        key = (self._class, tuple(self._servers), repr(sorted(self._options.items(), key=repr)))
        client = _clients.get(key)
        if client is None:
            client = _clients.setdefault(key, self._class(self._servers, **self._options))
        return client
