"""Django's Redis cache with one connection pool per process and server.

Django keeps its caches per asyncio context, not per thread (`CacheHandler.thread_critical` is False),
and each cache object makes its own connection pools: under ASGI every request got a new cache object,
so a new pool and a new TCP connection to Redis (with its HELLO and CLIENT SETINFO round trips) for
its first cache call, a fifth of a session create's time in a profile. Here the cache objects of one
process share their pools (redis-py's pools are thread-safe, and reset themselves in a forked child),
so a request borrows a connection already open. They share one client per pool as well: Django makes
a new `redis.Redis` for every command, and building one (its response callbacks, its event dispatcher)
cost as much CPU as a throttle's whole script in a profile; a client holds no connection of its own
between commands, and redis-py's clients are safe to share between threads. Everything else is Django's
own backend.
"""

import threading

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient

_pools: dict = {}
_clients: dict = {}
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

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = _clients.get(id(pool))
        if client is None or client.connection_pool is not pool:
            with _pools_lock:
                client = _clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = SharedPoolsRedisCacheClient
