"""Throttles for a public-facing gateway, on Django's cache (local memory by default, Redis in production).

The machinery and the throttles that need no model live here; those that recognise a credential's model
(a session token's conversation) live with the credentials, in sessions_app/access/throttles.py.

The client IP comes from DRF's `get_ident`, which trusts exactly `NUM_PROXIES` (the setting
BOTPORTAL_TRUSTED_PROXIES) entries of X-Forwarded-For and never the header blindly.

On Redis each count is one atomic script (botportal/api/throttle_store.py): one round trip where the
cache API takes two to five, and no count lost between requests of one bucket arriving at once.
"""

import contextlib
from types import SimpleNamespace

from rest_framework.throttling import SimpleRateThrottle

from botportal import validation
from botportal.api import throttle_store


class RateThrottle(SimpleRateThrottle):
    """DRF's rate rule (at most `num_requests` within any `duration` seconds, refused requests not
    counted) on a log kept by a Redis script; on other caches DRF's own way. `throttles_refusing`
    decides all of a request's rate throttles in one script."""

    logged = None  # (entries within the duration, the oldest one's time) when the script decided

    def allow_request(self, request, view):
        if not self.applies(request, view):
            return True
        decided = throttle_store.sliding_logs_add(self.cache, [self.log_entry()])
        return self.history_allow() if decided is None else self.log_decided(*decided[0])

    def applies(self, request, view) -> bool:
        """Whether this request is counted here; if so, its key and time are set."""
        if self.rate is None:
            return False
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return False
        self.now = self.timer()
        return True

    def log_entry(self) -> tuple[str, float, float, int]:
        return self.key, self.now, self.duration, self.num_requests

    def log_decided(self, allowed: bool, count: int, oldest: float) -> bool:
        self.logged = (count, oldest)
        return allowed

    def history_allow(self) -> bool:
        """DRF's SimpleRateThrottle.allow_request, from its history read: on a cache other than Redis."""
        self.history = self.cache.get(self.key, [])
        while self.history and self.history[-1] <= self.now - self.duration:
            self.history.pop()
        if len(self.history) >= self.num_requests:
            return self.throttle_failure()
        return self.throttle_success()

    def wait(self):
        if self.logged is None:
            return super().wait()
        count, oldest = self.logged  # as DRF's wait() reads its history
        remaining_duration = self.duration - (self.now - oldest) if count else self.duration
        available_requests = self.num_requests - count + 1
        if available_requests <= 0:
            return None
        return remaining_duration / float(available_requests)


# Where a DRF request carries its SlotsToGiveBack while JsonApiView.initial runs.
SLOTS_ATTRIBUTE = "botportal_auth_slots"


class SlotsToGiveBack:
    """Failed-authentication slots of good credentials, given back once the request's rate throttles
    are decided: in the same Redis script as those (one round trip less per request with a credential),
    or on their own by `give_back`, which the holder's owner calls however the request ends (`with`).

    A slot is taken before its credential is checked, exactly as without this; a good credential only
    gives it back a moment later, after the checks between its authentication and the throttles: the
    number of bad credentials checked at once stays bounded by the same rate. Once given back (`with`
    over), a slot added is given back at once."""

    def __init__(self):
        self.guards: list = []
        self.open = True

    def add(self, guard) -> None:
        if self.open:
            self.guards.append(guard)
        else:
            guard.attempt_release()

    def keys_for(self, cache) -> list[str]:
        """The slots' counters, taken from the holder, for a script on `cache` to count down."""
        taken = [guard for guard in self.guards if guard.cache is cache and guard.key is not None]
        self.guards = [guard for guard in self.guards if guard not in taken]
        keys = [guard.key for guard in taken]
        for guard in taken:
            guard.key = None
        return keys

    def give_back(self) -> None:
        guards, self.guards = self.guards, []
        for guard in guards:
            guard.attempt_release()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.open = False
        self.give_back()


def throttles_refusing(throttles, request, view, *, slots: SlotsToGiveBack | None = None) -> list:
    """The throttles that refuse this request, each having decided as its allow_request would (every
    throttle counts the request, as in DRF's check_throttles); on Redis, the rate throttles that apply
    are decided together in one script, which also gives back the failed-authentication `slots` held."""
    batched = [t for t in throttles if isinstance(t, RateThrottle) and t.cache is SimpleRateThrottle.cache]
    refused = [t for t in throttles if t not in batched and not t.allow_request(request, view)]
    applying = [t for t in batched if t.applies(request, view)]
    decided = []
    if applying:
        # Slots go to the script only on Redis (sliding_logs_add answers None elsewhere, having run nothing).
        on_redis = throttle_store.is_redis(SimpleRateThrottle.cache)
        keys = slots.keys_for(SimpleRateThrottle.cache) if slots is not None and on_redis else []
        decided = throttle_store.sliding_logs_add(
            SimpleRateThrottle.cache, [t.log_entry() for t in applying], count_down_first=keys
        )
    if slots is not None:
        slots.give_back()  # any the script did not take (not on Redis, no rate applying)
    if decided is None:
        refused += [t for t in applying if not t.history_allow()]
    else:
        refused += [t for t, result in zip(applying, decided, strict=True) if not t.log_decided(*result)]
    return refused


class PublicSessionCreateIpThrottle(RateThrottle):
    """Anonymous session creation with public bots, per client IP."""

    scope = "session_create_ip"

    def get_cache_key(self, request, view):
        if request.user is not None:
            return None  # owners are throttled per API secret
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class PublicSessionCreateBotThrottle(RateThrottle):
    """Anonymous session creation per public bot, whatever the IP."""

    scope = "session_create_bot"

    def get_cache_key(self, request, view):
        if request.user is not None:
            return None
        # The id comes from the URL: only a well-formed one names a bucket, so that junk ids cannot fill
        # the cache with keys of any length (they are a 404, and the per-IP limit still counts them).
        bot_id = validation.uuid_or_none(view.kwargs.get("bot_id", ""))
        if bot_id is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": bot_id}


class ApiSecretThrottle(RateThrottle):
    """Requests per owner authenticated with an API secret."""

    scope = "api_secret"

    def get_cache_key(self, request, view):
        if request.user is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


class FailedAuthenticationThrottle(SimpleRateThrottle):
    """Failed authentication attempts per client IP: past the rate, every attempt is refused unchecked.

    Counted in fixed windows of the rate's duration, the previous window's count weighing in by how much
    of it still lies within one duration of now (a sliding window, approximately). Each window's count
    is one cache counter changed only by the cache's atomic `add` and `incr`/`decr` (atomic on Redis and
    in local memory): an attempt takes a slot before its credential is checked and gives it back if the
    credential was good, so however many arrive at once, no more bad credentials are checked than the
    rate allows. The window's number is part of its key, so a counter that ever outlived its expiry
    could never hold an address back beyond its own window.
    """

    scope = "failed_auth"

    def get_cache_key(self, request, view=None):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def attempt_begin(self, request) -> float | None:
        """Take a slot for one credential check: None if it may go ahead, else seconds to wait."""
        self.key = None
        if self.rate is None:
            return None
        now = self.timer()
        window, elapsed = divmod(now, self.duration)
        base = self.get_cache_key(request)
        key = f"{base}:{int(window)}"
        count, previous = self._count_up(key, previous_key=f"{base}:{int(window) - 1}")
        remaining_share = (self.duration - elapsed) / self.duration
        if previous * remaining_share + count > self.num_requests:
            self._count_down(key)  # refused unchecked: not a check, so not a slot
            return self._wait(count=count, previous=previous, elapsed=elapsed)
        self.key = key
        return None

    def attempt_release(self) -> None:
        """The attempt was no failure (a good credential, or one never judged): its slot is given back."""
        if self.key is not None:
            self._count_down(self.key)
            self.key = None

    def _count_up(self, key, *, previous_key) -> tuple[int, int]:
        """This window's count with this attempt, and the previous window's count."""
        # Kept for two windows: the next one weighs this count in.
        counted = throttle_store.window_count_up(self.cache, key, previous_key, 2 * self.duration)
        if counted is not None:  # Redis: one script does both
            return counted
        return self._cache_count_up(key), self.cache.get(previous_key, 0)

    def _cache_count_up(self, key) -> int:
        try:
            return self.cache.incr(key)
        except ValueError:
            pass  # the window's first attempt
        if self.cache.add(key, 1, 2 * self.duration):
            return 1
        try:
            return self.cache.incr(key)
        except ValueError:
            return 1

    def _count_down(self, key) -> None:
        if throttle_store.count_down(self.cache, key):
            return
        # ValueError: the counter has expired meanwhile, nothing left to give back.
        with contextlib.suppress(ValueError):
            self.cache.decr(key)

    def _wait(self, *, count: int, previous: int, elapsed: float) -> float:
        """Seconds until an attempt would be let through, if no other comes meanwhile."""
        until_next_window = self.duration - elapsed
        if count > self.num_requests or not previous:
            return max(1.0, until_next_window)
        # Within this window, once enough of the previous one has slid out of reach.
        share_allowed = (self.num_requests - count) / previous
        return max(1.0, until_next_window - share_allowed * self.duration)


def throttle_wait(throttle_classes, request, *, user=None, auth=None, slots=None) -> float | None:
    """For views outside DRF: count this request against each throttle; seconds to wait if one refuses.

    The throttles read only the client address (request.META), the owner (`user`) and the credential
    (`auth`), so they get exactly those rather than a DRF request. `slots`: failed-authentication slots
    given back in the same round trip (SlotsToGiveBack).
    """
    seen = SimpleNamespace(META=request.META, user=user, auth=auth)
    refused = throttles_refusing([cls() for cls in throttle_classes], seen, None, slots=slots)
    if not refused:
        return None
    return max((wait for wait in (throttle.wait() for throttle in refused) if wait is not None), default=1.0)
