"""The throttles that know botportal's credentials: a session token's conversation is their bucket.

The machinery (and the throttles that need no model) is botportal.api.throttles.
"""

from botportal.api.throttles import (
    ApiSecretThrottle,
    PublicSessionCreateBotThrottle,
    PublicSessionCreateIpThrottle,
    RateThrottle,
)
from sessions_app.models import BotSession, Conversation


def _conversation_ident(conversation_id) -> str:
    return f"conversation-{conversation_id}"


class SessionTokenThrottle(RateThrottle):
    """Requests with session tokens, per conversation: refreshing a token, or holding several tokens of
    one conversation, never buys more requests in it (the same count as RuntimeSessionThrottle's)."""

    scope = "session_token"

    def get_cache_key(self, request, view):
        if not isinstance(request.auth, BotSession):
            return None
        return self.cache_format % {"scope": self.scope, "ident": _conversation_ident(request.auth.conversation_id)}


class RuntimeSessionThrottle(RateThrottle):
    """Turns per Einstein runtime session (a conversation), at the session token's rate."""

    scope = "session_token"

    def get_cache_key(self, request, view):
        if not isinstance(request.auth, Conversation):
            return None
        return self.cache_format % {"scope": self.scope, "ident": _conversation_ident(request.auth.pk)}


# Every API view of botportal carries these; each applies only where its credential is present.
DEFAULT_THROTTLES = [ApiSecretThrottle, SessionTokenThrottle]
SESSION_CREATE_THROTTLES = [PublicSessionCreateIpThrottle, PublicSessionCreateBotThrottle, *DEFAULT_THROTTLES]
