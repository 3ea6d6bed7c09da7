"""Who calls: a bot's Direct Line secret (any conversation of that bot, or a new one) or a token (its
own conversation only: a botportal session token from /api/v1 is one too); and from which origin."""

from dataclasses import dataclass

from django.utils import timezone
from rest_framework.exceptions import Throttled

from botportal.api.throttles import ApiSecretThrottle, RateThrottle, SlotsToGiveBack, throttle_wait
from botportal.errors import NotAuthenticated, NotAuthorized, NotFound
from botportal.validation import bot_origins, origin_allowed, uuid_or_none
from bots.models import Bot
from sessions_app.access import credentials
from sessions_app.access.authentication import credential_check_guarded
from sessions_app.access.throttles import RuntimeSessionThrottle
from sessions_app.models import BotSession, Conversation
from sessions_app.selectors.sessions import bot_session_by_digest
from sessions_app.services.sessions import SessionExpired, bot_session_authenticate

from .errors import DirectLineThrottled, retry_after
from .services import STATE, directline_secret_authenticate, directline_state, is_directline_secret


@dataclass
class Caller:
    bot: Bot
    token: str | None = None  # the presented token, handed back by start and reconnect
    bot_session: BotSession | None = None

    @property
    def conversation(self) -> Conversation | None:
        return self.bot_session.conversation if self.bot_session is not None else None


def bearer(request) -> str:
    scheme, _, value = (request.headers.get("Authorization") or "").strip().partition(" ")
    value = value.strip()
    # directlinejs sends "Bearer undefined" when a reconnect gave it no token.
    if scheme.lower() != "bearer" or not value or value in ("undefined", "null"):
        raise NotAuthenticated("Send 'Authorization: Bearer <Direct Line secret or token>'.")
    return value


def caller_authenticate(request, *, reading: bool = False, slots: SlotsToGiveBack | None = None) -> Caller:
    """The caller of a request: NotAuthenticated (401) for missing or unknown credentials, SessionExpired
    (403 TokenExpired) for a token that is no longer live; failures are counted per client IP.

    `reading`: the conversation's activities may still be read with a token that ended with its
    conversation (not one revoked or expired otherwise), so that a client reads the bot's last words.
    `slots`: where a good token's failed-authentication slot waits for the request's throttle, which
    gives it back in the same round trip (the caller's `with SlotsToGiveBack()`); else given back at once."""
    value = bearer(request)
    if is_directline_secret(value):
        # The slot a good secret took is given back with the owner's rate: one script.
        with SlotsToGiveBack() as secret_slots:
            bot = _guarded(request, lambda: _secret_bot(value), slots=secret_slots)
            _throttle([ApiSecretThrottle], request, user=bot.owner, slots=secret_slots)
        return Caller(bot=bot)
    try:
        # The conversation's bot comes in the same statement as the token, deleted or not: judged here.
        bot_session = _guarded(
            request, lambda: bot_session_authenticate(token=value, also=(STATE,), with_bot=True), slots=slots
        )
    except SessionExpired:
        bot_session = _ended_with_its_conversation(value) if reading else None
        if bot_session is None:
            raise
    conversation = bot_session.conversation
    if conversation.bot_id is None:
        raise NotAuthenticated("This token's conversation has no bot.")
    bot = conversation.bot
    # Bot.objects' rule (LiveBotManager), which the joined read does not apply: a deleted bot is gone.
    if bot is None or bot.deleted_at is not None:
        raise NotAuthenticated("This token's bot no longer exists.")
    return Caller(bot=bot, token=value, bot_session=bot_session)


def _guarded(request, check, *, slots=None):
    """credential_check_guarded, its 429 (too many failures from this client IP) in the client's unit."""
    try:
        return credential_check_guarded(request, check, slots=slots)
    except Throttled as refused:
        raise DirectLineThrottled(refused.wait, retry_after(request, refused.wait)) from None


def _ended_with_its_conversation(token: str) -> BotSession | None:
    bot_session = bot_session_by_digest(token_digest=credentials.digest(token), also=(STATE,), with_bot=True)
    if bot_session is None or not credentials.digests_match(bot_session.token_digest, token):
        return None
    ended_at = bot_session.conversation.ended_at
    # Ending a conversation revokes its tokens at that same instant; any other revocation stands.
    if ended_at is None or bot_session.revoked_at != ended_at or bot_session.expires_at <= timezone.now():
        return None
    return bot_session


def _secret_bot(value: str) -> Bot:
    bot = directline_secret_authenticate(secret=value)  # None for a deleted bot's secret too
    if bot is None:
        raise NotAuthenticated("The Direct Line secret is not valid.")
    return bot


def caller_conversation(caller: Caller, conversation_id) -> Conversation:
    """The conversation named in the path, if the caller may act on it; any other id is a 404."""
    key = uuid_or_none(conversation_id)
    if caller.bot_session is not None:
        if key != caller.bot_session.conversation_id:
            raise NotFound("No such conversation for this token.")
        return caller.conversation
    conversation = Conversation.objects.select_related(STATE).filter(pk=key, bot=caller.bot).first() if key else None
    if conversation is None:
        raise NotFound(f"No conversation {conversation_id!r}.")
    conversation.bot = caller.bot
    return conversation


def origin_check(origin: str | None, *, bot: Bot, conversation: Conversation | None) -> None:
    """A browser's request is refused when its origin is neither the bot's (when it names any) nor among
    the token's trustedOrigins; a request without Origin (a server, a Node client) is not refused for it."""
    if not origin:
        return
    state = directline_state(conversation) if conversation is not None else None
    trusted = state.trusted_origins if state is not None else []
    allowed = [*bot_origins(bot.allowed_origins), *bot_origins(trusted)]
    if allowed and not origin_allowed(allowed_origins=allowed, origin=origin):
        raise NotAuthorized(f"Requests from {origin} are not allowed for this bot.")


class DirectLinePollThrottle(RateThrottle):
    """Polling reads per conversation, at a rate far above directlinejs's once a second."""

    scope = "directline_poll"

    def get_cache_key(self, request, view):
        if not isinstance(request.auth, Conversation):
            return None
        return self.cache_format % {"scope": self.scope, "ident": f"conversation-{request.auth.pk}"}


class DirectLineSignalThrottle(DirectLinePollThrottle):
    """Activities that are not messages (typing, events): acknowledged, never a turn, so they do not
    spend the conversation's turns; a rate of their own bounds them."""

    scope = "directline_signal"


def turn_throttle(request, conversation: Conversation, *, slots=None) -> None:
    """Posting activities counts as turns do on every protocol: per conversation, the session token's rate."""
    _throttle([RuntimeSessionThrottle], request, auth=conversation, slots=slots)


def poll_throttle(request, conversation: Conversation, *, slots=None) -> None:
    _throttle([DirectLinePollThrottle], request, auth=conversation, slots=slots)


def signal_throttle(request, conversation: Conversation, *, slots=None) -> None:
    _throttle([DirectLineSignalThrottle], request, auth=conversation, slots=slots)


def _throttle(throttle_classes, request, *, slots=None, **credential) -> None:
    """`slots`: failed-authentication slots given back in the same round trip (SlotsToGiveBack)."""
    wait = throttle_wait(throttle_classes, request, slots=slots, **credential)
    if wait is not None:
        raise DirectLineThrottled(wait, retry_after(request, wait))
