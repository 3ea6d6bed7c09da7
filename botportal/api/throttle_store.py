"""How the throttles keep their counts in Django's cache: on Redis, each change is one atomic script.

Through Django's cache API an increment on Redis is two commands (EXISTS, then INCRBY), and DRF's rate
throttles read a request history and write it back whole (GET, then SET), so a request carrying a
credential paid seven round trips to Redis before its view ran, and two requests of one bucket at once
could both read the same history and one of them go uncounted. On Django's Redis cache each operation
below is one script, atomic in Redis; on any other cache (local memory by default) the functions answer
None and the caller keeps the cache API's way. Keys are made as the cache makes its own (prefix,
version), so a counter is still readable with `cache.get`. A rate log is a sorted set, kept under a
key of its own (the history's key with `:log`): a process still keeping DRF's pickled history under
the history's key (the old code, during a rolling deploy) never reads one as the other.
"""

import math
import secrets

from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache import cache as default_cache
from django.core.cache.backends.redis import RedisCache

# KEYS: this window's counter, the previous window's. ARGV: the counter's lifetime in ms.
# Returns this window's count after the increment and the previous window's count (or false).
_WINDOW_COUNT_UP = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {count, redis.call('GET', KEYS[2])}
"""

# A counter that has expired meanwhile is not brought back (as a negative count without expiry).
_COUNT_DOWN = """
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('DECR', KEYS[1]) end
return false
"""

# First, the counters named by the first ARGV[1] KEYS are counted down as _COUNT_DOWN does (a request's
# failed-authentication slots given back in the same round trip). Then DRF's rule, exactly, for each log
# in the other KEYS (sorted sets scored by time): drop the entries at or before now - duration; refuse
# if as many as the limit are left, else log this request. ARGV after the first, five per log: the
# oldest time dropped, now, a member unique to this request, the limit, the log's lifetime in ms.
# Returns, per log, whether it was allowed, the entries now in it, and the oldest one's time.
_SLIDING_LOGS = """
local released = tonumber(ARGV[1])
for i = 1, released do
  if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('DECR', KEYS[i]) end
end
local out = {}
for i = released + 1, #KEYS do
  local key = KEYS[i]
  local j = (i - released - 1) * 5 + 1
  redis.call('ZREMRANGEBYSCORE', key, '-inf', ARGV[j + 1])
  local count = redis.call('ZCARD', key)
  local allowed = 0
  if count < tonumber(ARGV[j + 4]) then
    redis.call('ZADD', key, ARGV[j + 2], ARGV[j + 3])
    redis.call('PEXPIRE', key, ARGV[j + 5])
    count = count + 1
    allowed = 1
  end
  out[#out + 1] = allowed
  out[#out + 1] = count
  out[#out + 1] = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2] or false
end
return out
"""

_scripts: dict[str, object] = {}


def _redis(cache, key: str):
    """(client, full key) when `cache` is Django's Redis cache, else None."""
    if cache is default_cache:  # the proxy DRF's throttles hold: the backend behind it
        cache = caches[DEFAULT_CACHE_ALIAS]
    if not isinstance(cache, RedisCache):
        return None
    full_key = cache.make_and_validate_key(key)
    return cache._cache.get_client(full_key, write=True), full_key  # noqa: SLF001 (Django's own client)


def is_redis(cache) -> bool:
    """Whether `cache` is Django's Redis cache, whose counts these scripts keep."""
    if cache is default_cache:
        cache = caches[DEFAULT_CACHE_ALIAS]
    return isinstance(cache, RedisCache)


def _run(client, source: str, keys: list[str], args: list):
    script = _scripts.get(source)
    if script is None:
        script = _scripts[source] = client.register_script(source)
    return script(keys=keys, args=args, client=client)  # EVALSHA, loading the script if Redis lacks it


def _milliseconds(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


def window_count_up(cache, key: str, previous_key: str, timeout: float) -> tuple[int, int] | None:
    """Add one to the counter `key` (created with `timeout` seconds to live) and read `previous_key`:
    (count, previous count), or None on a cache other than Redis."""
    found = _redis(cache, key)
    if found is None:
        return None
    client, full_key = found
    previous_full_key = cache.make_and_validate_key(previous_key)
    count, previous = _run(client, _WINDOW_COUNT_UP, [full_key, previous_full_key], [_milliseconds(timeout)])
    return int(count), int(previous or 0)


def count_down(cache, key: str) -> bool:
    """Take one from the counter `key` if it still exists; False on a cache other than Redis."""
    found = _redis(cache, key)
    if found is None:
        return False
    client, full_key = found
    _run(client, _COUNT_DOWN, [full_key], [])
    return True


def sliding_logs_add(
    cache, logs: list[tuple[str, float, float, int]], *, count_down_first: list[str] = ()
) -> list[tuple[bool, int, float]] | None:
    """DRF's SimpleRateThrottle rule on each (key, now, duration, limit), all in one script: per log
    (allowed, entries within the duration, the oldest entry's time), or None on a cache other than Redis.
    `count_down_first`: counters taken one from first, in the same script, as `count_down` does."""
    found = _redis(cache, f"{logs[0][0]}:log")
    if found is None:
        return None
    client, _ = found
    keys = [cache.make_and_validate_key(key) for key in count_down_first]
    args = [len(keys)]
    for key, now, duration, limit in logs:
        keys.append(cache.make_and_validate_key(f"{key}:log"))
        args += [repr(now - duration), repr(now), f"{now!r}:{secrets.token_hex(6)}", limit, _milliseconds(duration)]
    flat = _run(client, _SLIDING_LOGS, keys, args)
    return [
        (bool(flat[i]), int(flat[i + 1]), float(flat[i + 2]) if flat[i + 2] else logs[i // 3][1])
        for i in range(0, len(flat), 3)
    ]
