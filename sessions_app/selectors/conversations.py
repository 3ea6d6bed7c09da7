"""Reads of conversations and their messages, scoped to an owner (or to one session's conversation)."""

from functools import cache

from django.db import connection
from django.db.models import QuerySet

from botportal import validation
from botportal.errors import NotFound
from botportal.rows import JoinedLookup, ModelColumns
from sessions_app.models import Conversation, Message


def conversation_list(*, owner) -> QuerySet:
    return Conversation.objects.filter(owner=owner)


def conversation_get(*, owner, conversation_id) -> Conversation:
    key = validation.uuid_or_none(conversation_id)
    conversation = conversation_list(owner=owner).filter(pk=key).first() if key else None
    if conversation is None:
        raise NotFound(f"No conversation with id {conversation_id!r}.")
    return conversation


# Every turn (complete, send, an Einstein message) locks its conversation with this lookup, so its SQL
# is written once per process (`botportal.rows`) rather than compiled by Django on every request.
# A protocol's turn may want its own state of the conversation in the same statement: `also`.
_WITH_BOT: dict[tuple[str, ...], JoinedLookup] = {}


def conversation_with_bot(
    *, conversation_id, for_update: bool = False, nowait: bool = False, also: tuple[str, ...] = ()
) -> Conversation | None:
    """The conversation with its bot (None if deleted); with `for_update`, the conversation's row is
    locked until the caller's transaction ends (with `nowait`, DatabaseError if another holds it).
    `also`: reverse one-to-one relations (a protocol's state) loaded with it (`JoinedLookup`)."""
    lookup = _WITH_BOT.get(also)
    if lookup is None:
        lookup = _WITH_BOT[also] = JoinedLookup(Conversation, relation="bot", by="id", also=also)
    conversation = lookup.get(conversation_id, for_update=for_update, nowait=nowait)
    # The one read that bypasses the managers' rule (sessions_app.models): a deleted bot's conversation is gone.
    if conversation is not None and conversation.bot is not None and conversation.bot.deleted_at is not None:
        return None
    return conversation


MESSAGE_COLUMNS = ("id", "type", "text", "name", "description", "meta", "created_at", "updated_at")


def message_list(*, conversation_id) -> QuerySet:
    """The conversation's messages; the caller has already checked that it may see the conversation."""
    return Message.objects.filter(conversation_id=conversation_id)


def message_rows(*, conversation_id) -> QuerySet:
    """`message_list` as plain rows of MESSAGE_COLUMNS: a transcript page without building a model per message."""
    return message_list(conversation_id=conversation_id).values(*MESSAGE_COLUMNS)


_MESSAGE_ROW = ModelColumns(Message, "m", fields=MESSAGE_COLUMNS)
_MESSAGE_ROW_META_AS_TEXT = ModelColumns(Message, "m", fields=MESSAGE_COLUMNS, json_as_text=True)


@cache
def _message_page_sql(vendor: str, order: str, after: bool) -> str:
    quote = connection.ops.quote_name
    key = _MESSAGE_ROW.column("id", connection)
    return (
        f"SELECT {_MESSAGE_ROW.select_list(connection)} FROM {quote(_MESSAGE_ROW.table)} m"  # noqa: S608
        f" WHERE {_MESSAGE_ROW.column('conversation', connection)} = %s"
        + (f" AND {key} {'>' if order == 'asc' else '<'} %s" if after else "")
        + f" ORDER BY {key} {'ASC' if order == 'asc' else 'DESC'} LIMIT %s"
    )


def message_row_page(
    *, conversation_id, take: int, order: str, after: int | None = None, meta_as_text: bool = False
) -> list[dict]:
    """`message_rows` ordered by id (`asc` or `desc`), after the message with id `after`, `take` of them.

    The transcript page is the most requested read there is, so its statement is written once per
    process (`botportal.rows`) instead of compiled by Django on every request; the rows are the same,
    except that with `meta_as_text` each meta is the database's JSON text of it (`JsonText`), for a
    response that writes it as it is.
    """
    conversation_key = Message._meta.get_field("conversation").get_db_prep_value(conversation_id, connection)
    params = [conversation_key, *([after] if after is not None else []), take]
    with connection.cursor() as cursor:
        cursor.execute(_message_page_sql(connection.vendor, order, after is not None), params)
        rows = cursor.fetchall()
    return (_MESSAGE_ROW_META_AS_TEXT if meta_as_text else _MESSAGE_ROW).dicts(rows, using=connection.alias)


@cache
def _history_sql(vendor: str) -> str:
    quote = connection.ops.quote_name
    meta = Message._meta
    return (
        f"SELECT {quote(meta.get_field('type').column)}, {quote(meta.get_field('text').column)}"  # noqa: S608
        f" FROM {quote(meta.db_table)} WHERE {quote(meta.get_field('conversation').column)} = %s"
        f" ORDER BY {quote(meta.pk.column)} DESC LIMIT %s"
    )


def message_history(*, conversation_id, take: int) -> tuple[tuple[str, str], ...]:
    """(type, text) of the conversation's last `take` messages, oldest first: what a language model is
    shown of it. The caller holds the conversation (found live), so no live-rows filter is applied
    (as `Message.all_objects`). Every turn of a model-backed bot reads it, so its statement is written
    once per process (`botportal.rows`' approach) instead of compiled by Django on every turn."""
    conversation_key = Message._meta.get_field("conversation").get_db_prep_value(conversation_id, connection)
    with connection.cursor() as cursor:
        cursor.execute(_history_sql(connection.vendor), [conversation_key, take])
        rows = cursor.fetchall()
    return tuple((kind, text) for kind, text in reversed(rows))


@cache
def _last_of_type_sql(vendor: str) -> str:
    quote = connection.ops.quote_name
    meta = Message._meta
    key = quote(meta.pk.column)
    return (
        f"SELECT {key} FROM {quote(meta.db_table)}"  # noqa: S608
        f" WHERE {quote(meta.get_field('conversation').column)} = %s AND {quote(meta.get_field('type').column)} = %s"
        f" AND {key} <= %s ORDER BY {key} DESC LIMIT 1"
    )


def last_message_id_of_type(*, conversation_id, message_type: str, at_most: int) -> int | None:
    """The id of the conversation's last message of `message_type` whose id is at most `at_most`, or None.
    The caller holds the conversation (found live), as for `message_history`. Direct Line's polls read
    it for every page that holds a bot's reply (the user message it answers), so its statement is
    written once per process."""
    conversation_key = Message._meta.get_field("conversation").get_db_prep_value(conversation_id, connection)
    with connection.cursor() as cursor:
        cursor.execute(_last_of_type_sql(connection.vendor), [conversation_key, message_type, at_most])
        row = cursor.fetchone()
    return None if row is None else row[0]
