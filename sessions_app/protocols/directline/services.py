"""Direct Line's writes: secrets, and conversations started with a secret. Turns go through
sessions_app.services.conversations like every protocol's."""

import secrets as _secrets

from django.utils import timezone

from botportal import validation
from botportal.errors import InvalidInput
from botportal.rows import row_insert
from bots.models import Bot
from sessions_app.access import credentials
from sessions_app.models import Conversation, Origin
from sessions_app.services.sessions import OpenedSession, bot_session_create

from .models import STATE, DirectLineConversation, DirectLineSecret
from .selectors import directline_secret_by_digest

SECRET_PREFIX = "dls-"  # noqa: S105 (a public marker, not a secret)
# Direct Line's default token lifetime (expires_in); botportal's shortest session duration too.
TOKEN_SECONDS = 1800
# Where botportal keeps what a posted activity's message keeps of it (channelData, from, value...) in the
# message's meta: a reserved key (leading underscore), which no client may read or write over /api/v1.
# The conversation's own Direct Line state is not in meta at all: DirectLineConversation.
META_KEY = "_directline"
USER_ID_MAX = 256


def is_directline_secret(value: str) -> bool:
    return value.startswith(SECRET_PREFIX)


def directline_secret_create(*, bot: Bot, name: str = "") -> tuple[DirectLineSecret, str]:
    """A new secret for the bot; the plain secret is returned once and stored only as a digest."""
    secret = SECRET_PREFIX + _secrets.token_urlsafe(32)
    row = DirectLineSecret.objects.create(
        bot=bot, name=name, prefix=secret[: credentials.DISPLAY_PREFIX_LENGTH], digest=credentials.digest(secret)
    )
    return row, secret


def directline_secret_revoke(*, secret: DirectLineSecret) -> None:
    DirectLineSecret.objects.filter(pk=secret.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def directline_secret_authenticate(*, secret: str) -> Bot | None:
    """The live bot of a live secret (its owner active), or None. One indexed lookup; records the use."""
    if not is_directline_secret(secret):
        return None
    row = directline_secret_by_digest(digest=credentials.digest(secret))
    if row is None or not credentials.digests_match(row.digest, secret) or row.bot.deleted_at is not None:
        return None
    now = timezone.now()
    if credentials.last_use_due(row.last_used_at, now):
        DirectLineSecret.objects.filter(pk=row.pk).update(last_used_at=now)
    return row.bot


def directline_state(conversation: Conversation) -> DirectLineConversation | None:
    """What Direct Line keeps of the conversation (None for one another protocol started). The reads of
    Direct Line's requests load it with the conversation (`STATE`): no query of its own then."""
    try:
        return getattr(conversation, STATE)
    except DirectLineConversation.DoesNotExist:
        return None


def directline_start_parse(body) -> tuple[dict, list[str]]:
    """The optional body of tokens/generate (and of a start with the secret): ({id, name}, trustedOrigins)."""
    if body is None:
        return {}, []
    if not isinstance(body, dict):
        raise InvalidInput("The body must be a JSON object.")
    user, problems = body.get("user"), {}
    person = {}
    if user is not None:
        if not isinstance(user, dict):
            problems["user"] = "must be an object {id, name}"
        else:
            for key in ("id", "name"):
                value = user.get(key)
                if value is None:
                    continue
                if not isinstance(value, str) or len(value) > USER_ID_MAX:
                    problems[f"user.{key}"] = f"must be a string of at most {USER_ID_MAX} characters"
                else:
                    person[key] = value
    try:
        trusted = validation.allowed_origins(body.get("trustedOrigins"), field="trustedOrigins")
    except InvalidInput as error:
        problems.update(error.fields)
        trusted = []
    if problems:
        raise InvalidInput(fields=problems)
    return person, trusted


def directline_conversation_start(*, bot: Bot, user: dict | None = None, trusted_origins=()) -> OpenedSession:
    """A new conversation with the bot (its welcome stored) and its first token, for the bot's secret.

    The secret is the owner's credential for this one bot, so the owner opens the session."""
    user = user or {}

    def state_insert(conversation: Conversation) -> None:
        # Created with the conversation in hand, the row is cached on it as a read would have loaded it.
        row_insert(
            DirectLineConversation(
                conversation=conversation,
                user_id=user.get("id") or "",
                user_name=user.get("name") or "",
                trusted_origins=list(trusted_origins),
            )
        )

    return bot_session_create(
        bot=bot,
        actor=bot.owner,
        duration_seconds=TOKEN_SECONDS,
        origin=Origin.DIRECTLINE,
        protocol_state=state_insert,
    )
