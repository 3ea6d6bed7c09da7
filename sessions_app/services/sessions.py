"""Bot sessions: time-limited tokens that may converse in exactly one conversation."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from botportal import validation
from botportal.errors import Conflict, InvalidInput, NotAuthenticated, NotAuthorized
from botportal.rows import row_insert
from bots.models import Bot
from sessions_app.access import credentials
from sessions_app.models import BotSession, Contact, ContactSource, Conversation, MessageType, Origin, SessionStatus
from sessions_app.selectors.sessions import bot_session_by_digest
from sessions_app.services.contacts import contact_for_person
from sessions_app.services.conversations import conversation_messages_add, conversation_open, conversation_welcome
from sessions_app.services.signals import conversations_changed_announce


class SessionExpired(NotAuthenticated):
    """A token that was issued but is no longer live (expired, revoked, its conversation over): a
    NotAuthenticated everywhere, told apart by the protocols that answer it differently (Direct Line)."""


@dataclass
class IssuedSession:
    bot_session: BotSession
    token: str  # the plain token: returned to the client once, never stored


@dataclass
class OpenedSession:
    conversation: Conversation
    issued: IssuedSession
    messages: list  # the messages stored as the session began, in order


def bot_session_access_check(*, bot: Bot, actor) -> None:
    """Who may open a session with a bot: those it is visible to (Bot.objects.visible_to); otherwise
    anonymous callers are asked to authenticate and other owners are refused."""
    if bot.is_visible_to(actor):
        return
    if actor is None:
        raise NotAuthenticated("This bot is not public: authenticate with its owner's API secret.")
    if actor.pk != bot.owner_id:
        raise NotAuthorized("Only the bot's owner may open sessions with this bot.")


def bot_session_create(
    *,
    bot: Bot,
    actor,
    duration_seconds=None,
    contact: dict | None = None,
    messages: list | None = None,
    meta: dict | None = None,
    origin: str = Origin.CHATBOTKIT,
    protocol_state: Callable[[Conversation], None] | None = None,
) -> OpenedSession:
    """Open a conversation with the bot and issue its session token, all in one transaction.

    `protocol_state(conversation)` stores a protocol's own row of the new conversation in that same
    transaction (Direct Line's), where a transaction of the caller's around this one would cost a
    savepoint's two round trips.

    `contact` ({name?, email?, phone?}) ties the conversation to the owner's contact for that person
    when the bot's owner opens the session; from anyone else it is a visitor's claim, which never
    changes nor attaches to a contact the owner made (see contact_for_person).
    `messages` pre-fill the conversation and may only be user messages.
    """
    bot_session_access_check(bot=bot, actor=actor)
    duration, person, initial, checked_meta = validation.collect(
        lambda: validation.session_duration(duration_seconds),
        lambda: _person(contact),
        # Only the person may speak first: a session cannot put words in the bot's mouth.
        lambda: validation.messages(messages, allowed_types=[MessageType.USER]),
        lambda: validation.meta(meta),
    )
    with transaction.atomic():
        source = ContactSource.OWNER if actor is not None and actor.pk == bot.owner_id else ContactSource.VISITOR
        contact_row = contact_for_person(owner=bot.owner, source=source, **person) if person else None
        conversation = conversation_open(
            owner=bot.owner, bot=bot, origin=origin, contact=contact_row, meta=checked_meta
        )
        if protocol_state is not None:
            protocol_state(conversation)
        welcome = conversation_welcome(conversation=conversation)
        stored = [welcome.bot_message] if welcome.bot_message else []
        stored += conversation_messages_add(conversation=conversation, messages=initial)
        issued = _session_issue(conversation=conversation, duration_seconds=duration, actor=actor)
    return OpenedSession(conversation=conversation, issued=issued, messages=stored)


def conversation_session_create(*, conversation: Conversation, actor, duration_seconds=None) -> IssuedSession:
    """A new token for an existing conversation (the caller has checked that `actor` owns it)."""
    duration = validation.session_duration(duration_seconds)
    if conversation.ended_at is not None:
        raise Conflict("The conversation has ended; open a new session instead.")
    return _session_issue(conversation=conversation, duration_seconds=duration, actor=actor)


def bot_session_authenticate(*, token: str, also: tuple[str, ...] = (), with_bot: bool = False) -> BotSession:
    """The live session a token belongs to: one indexed lookup, every check made now. `also`: a
    protocol's state of the conversation, and with `with_bot` the conversation's bot (deleted or not:
    the caller judges), read in the same statement (`bot_session_by_digest`).

    Unknown, expired (the instant expires_at passes), revoked, or belonging to an ended or idle
    conversation: NotAuthenticated. Nothing here depends on a periodic task having run.
    """
    if not token or credentials.is_api_secret(token):
        raise NotAuthenticated("A valid session token is required.")
    bot_session = bot_session_by_digest(token_digest=credentials.digest(token), also=also, with_bot=with_bot)
    if bot_session is None or not credentials.digests_match(bot_session.token_digest, token):
        raise NotAuthenticated("The session token is not valid.")
    now = timezone.now()
    conversation = bot_session.conversation
    status = bot_session.status(at=now)
    if status == SessionStatus.REVOKED:
        raise SessionExpired("The session token has been revoked.")
    if status == SessionStatus.EXPIRED:
        raise SessionExpired("The session token has expired.")
    if conversation.ended_at is not None:
        raise SessionExpired("The session's conversation has ended.")
    if conversation.is_idle(at=now):
        raise SessionExpired("The session's conversation has been idle for too long.")
    if credentials.last_use_due(bot_session.last_used_at, now):
        # By key, without the live-rows filter: this session was found live a moment ago.
        BotSession.all_objects.filter(pk=bot_session.pk).update(last_used_at=now)
        bot_session.last_used_at = now
    return bot_session


def bot_session_refresh(*, bot_session: BotSession) -> IssuedSession:
    """Trade a live token for a new one with a fresh expiry of the same duration; the old one is revoked.

    A line of refreshes never lives beyond SESSION_MAX_LIFETIME from when its first token was issued.
    """
    now = timezone.now()
    lifetime_end = bot_session.issued_first_at + timedelta(seconds=settings.BOTPORTAL["SESSION_MAX_LIFETIME"])
    if lifetime_end <= now:
        raise NotAuthorized("This session has reached its maximum lifetime; create a new session.")
    with transaction.atomic():
        revoked = BotSession.objects.filter(pk=bot_session.pk).revoke(at=now)
        if not revoked:
            raise NotAuthenticated("The session token has been revoked.")
        return _session_issue(
            conversation=bot_session.conversation,
            duration_seconds=bot_session.duration_seconds,
            actor=bot_session.created_by,
            issued_first_at=bot_session.issued_first_at,
            not_after=lifetime_end,
        )


def bot_session_revoke(*, bot_session: BotSession) -> None:
    if BotSession.objects.filter(pk=bot_session.pk).revoke():
        conversations_changed_announce([bot_session.conversation_id])  # its open streams close


def conversation_sessions_revoke(*, conversation: Conversation) -> int:
    """Revoke every token of the conversation not yet revoked; returns how many."""
    revoked = BotSession.objects.filter(conversation=conversation).revoke()
    if revoked:
        conversations_changed_announce([conversation.pk])
    return revoked


def _session_issue(
    *, conversation: Conversation, duration_seconds: int, actor, issued_first_at=None, not_after=None
) -> IssuedSession:
    token = credentials.new_session_token()
    now = timezone.now()
    expires_at = now + timedelta(seconds=duration_seconds)
    if not_after is not None:
        expires_at = min(expires_at, not_after)
    bot_session = BotSession(
        conversation=conversation,
        token_digest=credentials.digest(token),
        duration_seconds=duration_seconds,
        created_at=now,
        issued_first_at=issued_first_at or now,
        expires_at=expires_at,
        created_by=actor,
    )
    # One INSERT written once per process (`botportal.rows`): what BotSession.objects.create does.
    row_insert(bot_session)
    return IssuedSession(bot_session=bot_session, token=token)


def _person(contact) -> dict | None:
    if contact is None:
        return None
    if not isinstance(contact, dict):
        raise InvalidInput(fields={"contact": "must be an object with name, email and/or phone"})
    unknown = sorted(set(contact) - {"name", "email", "phone"})
    problems = {f"contact.{key}": "is not a known field" for key in unknown}
    person = {}
    checks = (
        ("name", lambda value, field: validation.short_text(value, field=field, model=Contact, name="name")),
        ("email", validation.email),
        ("phone", validation.phone),
    )
    for key, check in checks:
        try:
            person[key] = check(contact.get(key), field=f"contact.{key}")
        except InvalidInput as error:
            problems.update(error.fields)
    if problems:
        raise InvalidInput(fields=problems)
    return person
