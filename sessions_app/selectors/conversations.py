"""Reads of conversations and their messages, scoped to an owner (or to one session's conversation)."""

import uuid

from django.db.models import QuerySet

from botportal.errors import NotFound
from sessions_app.models import Conversation, Message


def conversation_list(*, owner) -> QuerySet:
    return Conversation.objects.filter(owner=owner)


def conversation_get(*, owner, conversation_id) -> Conversation:
    try:
        key = uuid.UUID(str(conversation_id))
    except ValueError:
        key = None
    conversation = conversation_list(owner=owner).filter(pk=key).first() if key else None
    if conversation is None:
        raise NotFound(f"No conversation with id {conversation_id!r}.")
    return conversation


MESSAGE_COLUMNS = ("id", "type", "text", "name", "description", "meta", "created_at", "updated_at")


def message_list(*, conversation_id) -> QuerySet:
    """The conversation's messages; the caller has already checked that it may see the conversation."""
    return Message.objects.filter(conversation_id=conversation_id)


def message_rows(*, conversation_id) -> QuerySet:
    """`message_list` as plain rows of MESSAGE_COLUMNS: a transcript page without building a model per message."""
    return message_list(conversation_id=conversation_id).values(*MESSAGE_COLUMNS)
