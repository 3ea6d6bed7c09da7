"""Throttles for a public-facing gateway, on Django's cache (local memory by default, Redis in production).

The client IP comes from DRF's `get_ident`, which trusts exactly `NUM_PROXIES` (the setting
BOTPORTAL_TRUSTED_PROXIES) entries of X-Forwarded-For and never the header blindly.
"""

from rest_framework.throttling import SimpleRateThrottle

from sessions_app.models import BotSession


class PublicSessionCreateIpThrottle(SimpleRateThrottle):
    """Anonymous session creation with public bots, per client IP."""

    scope = "session_create_ip"

    def get_cache_key(self, request, view):
        if request.user is not None:
            return None  # owners are throttled per API secret
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class PublicSessionCreateBotThrottle(SimpleRateThrottle):
    """Anonymous session creation per public bot, whatever the IP."""

    scope = "session_create_bot"

    def get_cache_key(self, request, view):
        if request.user is not None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": view.kwargs.get("bot_id", "")}


class SessionTokenThrottle(SimpleRateThrottle):
    """Requests per session token."""

    scope = "session_token"

    def get_cache_key(self, request, view):
        if not isinstance(request.auth, BotSession):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}


class ApiSecretThrottle(SimpleRateThrottle):
    """Requests per owner authenticated with an API secret."""

    scope = "api_secret"

    def get_cache_key(self, request, view):
        if request.user is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


class FailedAuthenticationThrottle(SimpleRateThrottle):
    """Failed authentication attempts per client IP: past the rate, every attempt is refused unchecked."""

    scope = "failed_auth"

    def get_cache_key(self, request, view=None):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def blocked_for(self, request) -> float | None:
        """Seconds until this IP may try again, or None if it may try now."""
        if self.rate is None:
            return None
        self.key = self.get_cache_key(request)
        self.history = self.cache.get(self.key, [])
        self.now = self.timer()
        while self.history and self.history[-1] <= self.now - self.duration:
            self.history.pop()
        if len(self.history) >= self.num_requests:
            return self.wait()
        return None

    def record_failure(self, request) -> None:
        if self.rate is None:
            return
        if getattr(self, "key", None) is None:
            self.blocked_for(request)
        self.history.insert(0, self.now)
        self.cache.set(self.key, self.history, self.duration)


# Every API view of botportal carries these; each applies only where its credential is present.
DEFAULT_THROTTLES = [ApiSecretThrottle, SessionTokenThrottle]
SESSION_CREATE_THROTTLES = [PublicSessionCreateIpThrottle, PublicSessionCreateBotThrottle, *DEFAULT_THROTTLES]
