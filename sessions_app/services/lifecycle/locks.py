"""The lifecycle's locks: one run of a task at a time, across every worker.

On PostgreSQL a session-level advisory lock; elsewhere the Django cache's atomic `add`, held by a token so
that only its holder releases it.
"""

import hashlib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.cache import cache
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


@contextmanager
def _cache_lock(name: str, timeout: int) -> Iterator[bool]:
    cache_key = f"botportal:lifecycle-lock:{name}"
    holder = uuid.uuid4().hex
    acquired = cache.add(cache_key, holder, timeout)
    try:
        yield acquired
    finally:
        # Only the holder releases; a lock that expired and was taken by another run stays with it.
        if acquired and cache.get(cache_key) == holder:
            cache.delete(cache_key)


def lifecycle_lock(*, name: str, timeout: int = LOCK_TIMEOUT):
    """A context manager yielding whether this run holds the lock for `name`.

    On PostgreSQL a session-level advisory lock: every worker shares it through the database, and it goes
    away with the holder's connection, so a killed worker never leaves it behind. Elsewhere the Django
    cache's atomic `add`, with a timeout so that a lock whose holder died expires by itself.
    """
    if connection.vendor == "postgresql":
        return _advisory_lock(name)
    return _cache_lock(name, timeout)
