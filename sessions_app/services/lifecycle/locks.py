"""The lifecycle's locks: one run of a task at a time, across every worker.

On PostgreSQL a session-level advisory lock; elsewhere the Django cache's atomic `add`, held by a token so
that only its holder releases it.
"""

import hashlib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.cache import cache
from django.core.cache.backends.redis import RedisCache
from django.db import connection

# A run that dies without releasing its lock (killed worker, lost cache connection) blocks the next
# runs at most this long. Far longer than a healthy run: pruning a million conversations takes about 20 s.
LOCK_TIMEOUT = 30 * 60


def _advisory_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(f"botportal.lifecycle.{name}".encode()).digest()[:8], "big", signed=True)


@contextmanager
def _advisory_lock(name: str) -> Iterator[bool]:
    key = _advisory_key(name)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        acquired = cursor.fetchone()[0]
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


# Compare and delete in one step on the Redis server: a lock that expired between a `get` and a
# `delete` and was taken by another run would otherwise be deleted from under that run.
_RELEASE_IF_HELD = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


def _cache_lock_release(cache_key: str, holder: str) -> None:
    """Release the cache lock only if `holder` still holds it."""
    if isinstance(cache, RedisCache):
        key = cache.make_and_validate_key(cache_key)
        client = cache._cache
        # The value compared is the one `add` stored: the backend's own serialisation of `holder`.
        client.get_client(key, write=True).eval(_RELEASE_IF_HELD, 1, key, client._serializer.dumps(holder))
        return
    # Other backends (the in-process one of tests and single-process runs) have no compare-and-delete:
    # the lock would have to expire, and be taken, in the instant between these two calls.
    if cache.get(cache_key) == holder:
        cache.delete(cache_key)


@contextmanager
def _cache_lock(name: str, timeout: int) -> Iterator[bool]:
    cache_key = f"botportal:lifecycle-lock:{name}"
    holder = uuid.uuid4().hex
    acquired = cache.add(cache_key, holder, timeout)
    try:
        yield acquired
    finally:
        # Only the holder releases; a lock that expired and was taken by another run stays with it.
        if acquired:
            _cache_lock_release(cache_key, holder)


def lifecycle_lock(*, name: str, timeout: int = LOCK_TIMEOUT):
    """A context manager yielding whether this run holds the lock for `name`.

    On PostgreSQL a session-level advisory lock: every worker shares it through the database, and it goes
    away with the holder's connection, so a killed worker never leaves it behind. Elsewhere the Django
    cache's atomic `add`, with a timeout so that a lock whose holder died expires by itself.
    """
    if connection.vendor == "postgresql":
        return _advisory_lock(name)
    return _cache_lock(name, timeout)
