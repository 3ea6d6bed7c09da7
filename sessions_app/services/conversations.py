"""Conversations and the messages exchanged in them, for every protocol.

A turn locks its conversation row, so turns in one conversation are processed one at a time and
every user message is followed by its bot reply: concurrent requests never interleave.
"""

from collections.abc import Iterator
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from botportal.errors import Conflict
from bots import engine
from bots.engine import EngineReply, Turn
from sessions_app.models import BotSession, Conversation, EndReason, Message, MessageType
from sessions_app.selectors.conversations import conversation_with_bot

# How much of the conversation a language-model engine is shown.
HISTORY_LENGTH = 20


@dataclass
class ExchangeResult:
    user_message: Message | None
    bot_message: Message | None
    reply: EngineReply


def conversation_open(
    *,
    owner,
    bot=None,
    origin: str,
    contact=None,
    name: str = "",
    description: str = "",
    meta: dict | None = None,
    variables: dict | None = None,
    tz: str = "UTC",
    external_session_key: str = "",
) -> Conversation:
    """A new conversation bound to the bot's current version, dataset and skillset."""
    initial_variables = engine.variable_defaults(bot, contact=contact) if bot is not None else {}
    initial_variables.update(variables or {})
    return Conversation.objects.create(
        owner=owner,
        bot=bot,
        bot_version=bot.version if bot is not None else None,
        dataset_id=bot.dataset_id if bot is not None else None,
        skillset_id=bot.skillset_id if bot is not None else None,
        contact=contact,
        name=name,
        description=description,
        meta=meta or {},
        origin=origin,
        variables=initial_variables,
        timezone=tz,
        external_session_key=external_session_key,
    )


def conversation_messages_add(*, conversation: Conversation, messages: list[dict]) -> list[Message]:
    """Store already-validated messages ({type, text, meta?, name?}) in the given order."""
    now = timezone.now()
    rows = [
        Message(
            conversation=conversation,
            type=item["type"],
            text=item.get("text", ""),
            name=item.get("name", ""),
            meta=item.get("meta") or {},
            created_at=now,
        )
        for item in messages
    ]
    # One INSERT; both PostgreSQL and SQLite (3.35+) return the new keys, in order.
    return Message.objects.bulk_create(rows)


def conversation_welcome(*, conversation: Conversation) -> ExchangeResult:
    """Store and return the bot's welcome, as a session begins."""
    reply = engine.welcome(_turn(conversation))
    bot_message = _bot_message(conversation, reply) if reply.messages else None
    if bot_message is not None:
        bot_message.save()
    if reply.variables != conversation.variables or reply.state != conversation.engine_state or reply.ended:
        _conversation_state_save(conversation, reply)
    return ExchangeResult(user_message=None, bot_message=bot_message, reply=reply)


def conversation_exchange_stream(
    *,
    conversation: Conversation,
    text: str | None,
    choice_id: str | None = None,
    sequence_id: int | None = None,
    user_meta: dict | None = None,
    store_user_message: bool = True,
    lock_held: bool = False,
) -> Iterator[str | ExchangeResult]:
    """One turn: store the user's message, let the engine answer, store the answer.

    Yields the reply's text in pieces as the engine produces them, then the ExchangeResult. Everything
    happens in one transaction: a turn that fails, or a stream abandoned by its client, stores nothing.
    With `text` None and `store_user_message` False, answers the last message that is waiting for a reply.
    With `lock_held`, the caller has already locked `conversation` (select_for_update, bot loaded) in
    its own transaction; the turn then works on that instance and leaves it up to date.
    """
    received_at = timezone.now()
    with transaction.atomic():
        locked = _conversation_held(conversation) if lock_held else conversation_lock(conversation)
        if not store_user_message:
            user_message = _message_waiting_for_reply(locked)
            text = user_message.text
        reply = None
        for piece in engine.stream(_turn(locked, text=text, choice_id=choice_id)):
            if isinstance(piece, EngineReply):
                reply = piece
            else:
                yield piece
        new_messages = []
        if store_user_message:
            # Stored once the engine has answered, so that it carries what the engine detected in it
            # without a second write; the row lock keeps it right before its reply.
            user_message = Message(
                conversation=locked,
                type=MessageType.USER,
                text=text or "",
                meta={**(user_meta or {}), **_detections_json(reply)},
                sequence_id=sequence_id,
                created_at=received_at,
            )
            new_messages.append(user_message)
        elif reply.intents or reply.entities:
            user_message.meta = {**user_message.meta, **_detections_json(reply)}
            user_message.save(update_fields=["meta", "updated_at"])
        bot_message = _bot_message(locked, reply) if reply.messages else None
        if bot_message is not None:
            new_messages.append(bot_message)
        # One INSERT for the turn's messages; both databases return the new keys in order.
        Message.objects.bulk_create(new_messages)
        _conversation_state_save(locked, reply)
    yield ExchangeResult(user_message=user_message, bot_message=bot_message, reply=reply)


def conversation_exchange(**kwargs) -> ExchangeResult:
    """`conversation_exchange_stream` without the stream: the ExchangeResult alone."""
    result = None
    for piece in conversation_exchange_stream(**kwargs):
        result = piece
    return result


def conversation_send(*, conversation: Conversation, text: str) -> tuple[Message, list]:
    """Store a user message without answering it; `conversation_exchange_stream(store_user_message=False)`
    answers it later. Returns the message and the entities found in it."""
    with transaction.atomic():
        locked = conversation_lock(conversation)
        entities = engine.detect_entities(_turn(locked, text=text))
        message = Message.objects.create(
            conversation=locked,
            type=MessageType.USER,
            text=text,
            meta={"entities": [_entity_json(entity) for entity in entities]} if entities else {},
        )
        _conversation_touch(locked)
    return message, entities


def conversation_end(*, conversation: Conversation, reason: str = EndReason.USER_REQUEST) -> Conversation:
    """End the conversation for good and revoke its session tokens."""
    with transaction.atomic():
        locked = conversation_lock(conversation, allow_ended=True)
        if locked.ended_at is None:
            now = timezone.now()
            locked.ended_at = now
            locked.end_reason = reason
            locked.save(update_fields=["ended_at", "end_reason", "updated_at"])
            BotSession.objects.filter(conversation=locked, revoked_at__isnull=True).update(revoked_at=now)
    conversation.ended_at, conversation.end_reason = locked.ended_at, locked.end_reason
    return locked


def conversation_lock(conversation: Conversation, *, allow_ended: bool = False, nowait: bool = False) -> Conversation:
    """The conversation re-read with its bot under its row lock, in the caller's transaction. An ended
    one is a Conflict unless `allow_ended`; with `nowait`, a row another request holds raises
    DatabaseError at once."""
    locked = conversation_with_bot(conversation_id=conversation.pk, for_update=True, nowait=nowait)
    if locked is None:
        raise Conversation.DoesNotExist(f"No conversation {conversation.pk}.")
    if locked.ended_at is not None and not allow_ended:
        raise Conflict("The conversation has ended.")
    return locked


def _conversation_held(conversation: Conversation) -> Conversation:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("lock_held needs the caller's transaction holding the conversation's row lock")
    if conversation.ended_at is not None:
        raise Conflict("The conversation has ended.")
    return conversation


def _message_waiting_for_reply(conversation: Conversation) -> Message:
    last = Message.objects.filter(conversation=conversation).order_by("-id").first()
    if last is None or last.type != MessageType.USER:
        raise Conflict("No message is waiting for a reply: send one first.")
    return last


def _turn(conversation: Conversation, *, text: str | None = None, choice_id: str | None = None) -> Turn:
    history = ()
    if conversation.bot is not None and conversation.bot.model:
        recent = Message.objects.filter(conversation=conversation).order_by("-id")[:HISTORY_LENGTH]
        history = tuple(reversed([(m.type, m.text) for m in recent]))
    return Turn(
        bot=conversation.bot,
        variables=dict(conversation.variables),
        state=dict(conversation.engine_state),
        text=text,
        choice_id=choice_id,
        timezone=conversation.timezone,
        history=history,
        dataset_id=conversation.dataset_id,
    )


def _intent_json(intent) -> dict:
    return {"label": intent.label, "confidence": intent.confidence, "source": intent.source}


def _entity_json(entity) -> dict:
    return {"type": entity.type, "value": entity.value, "text": entity.text, "confidence": entity.confidence}


def _detections_json(reply: EngineReply) -> dict:
    """What the engine detected in a user message, kept on that message's meta."""
    if not (reply.intents or reply.entities):
        return {}
    return {
        "intents": [_intent_json(intent) for intent in reply.intents],
        "entities": [_entity_json(entity) for entity in reply.entities],
    }


def _bot_message(conversation: Conversation, reply: EngineReply) -> Message:
    """The bot's message for a reply, not yet stored."""
    return Message(conversation=conversation, type=MessageType.BOT, text=reply.text, meta={"messages": reply.messages})


def _conversation_state_save(conversation: Conversation, reply: EngineReply) -> None:
    conversation.variables = reply.variables
    conversation.engine_state = reply.state
    conversation.last_activity_at = timezone.now()
    fields = ["variables", "engine_state", "last_activity_at", "updated_at"]
    if reply.ended and conversation.ended_at is None:
        conversation.ended_at = conversation.last_activity_at
        conversation.end_reason = EndReason.OTHER
        fields += ["ended_at", "end_reason"]
        BotSession.objects.filter(conversation=conversation, revoked_at__isnull=True).update(
            revoked_at=conversation.ended_at
        )
    conversation.save(update_fields=fields)


def _conversation_touch(conversation: Conversation) -> None:
    conversation.last_activity_at = timezone.now()
    conversation.save(update_fields=["last_activity_at", "updated_at"])
