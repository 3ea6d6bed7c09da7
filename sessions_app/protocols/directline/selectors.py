"""Direct Line's reads on its hot paths: the secret a site's back end presents, and what a stream's
socket needs to know of its conversation on every read.

Each is read on every request or every change of a conversation, so their statements are written once
per process (`botportal.rows`) instead of compiled by Django each time: compiling the queries a socket's
read replaced cost a fifth of the server's CPU over the Direct Line benchmark (docs/performance.md)."""

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from django.contrib.auth import get_user_model
from django.db import connection, connections

from botportal.rows import JoinedLookup, ModelColumns
from bots.models import Bot
from sessions_app.models import BotSession, Conversation, Message, OwnerProfile
from sessions_app.selectors.sessions import bot_session_by_id

from .models import STATE, DirectLineSecret


def _live_secret_of_an_active_owner(connection) -> str:
    # The rule of the ORM query this replaces: filter(revoked_at__isnull=True, bot__owner__is_active=True).
    quote = connection.ops.quote_name
    revoked = quote(DirectLineSecret._meta.get_field("revoked_at").column)
    active = quote(get_user_model()._meta.get_field("is_active").column)
    return f"t.{revoked} IS NULL AND o.{active}"


# Every token a Web Chat page is given starts with this lookup, so its SQL is written once per process
# (`botportal.rows`): Django compiling the two joins on each request cost more than the query.
_BY_DIGEST = JoinedLookup(
    DirectLineSecret, relation="bot", then="owner", by="digest", where=_live_secret_of_an_active_owner
)


def directline_secret_by_digest(*, digest: str) -> DirectLineSecret | None:
    """The unrevoked secret with this digest, its bot and the bot's owner loaded with it (as
    `select_related("bot", "bot__owner")`): one indexed query. None if there is none, or if the bot's owner
    has been deactivated. A deleted bot's secret is found: the caller refuses it (Bot.deleted_at)."""
    return _BY_DIGEST.get(digest)


@dataclass(frozen=True)
class StreamLine:
    last_activity_at: datetime
    marks: tuple  # what the look compares (fanout.MARKS): updated_at, ended_at, the last message's key
    ended_at: datetime | None
    tokens_end: datetime | None  # when the line's last token ends (revoked or expiring); None: no token


_CONVERSATION = ModelColumns(Conversation, "c", fields=("last_activity_at", "updated_at", "ended_at"))
# The line's end is a token's own column (revoked_at, else expires_at), loaded as expires_at is.
_TOKENS_END = ModelColumns(BotSession, "s", fields=("expires_at",))


@cache
def _stream_line_sql(vendor: str) -> str:
    quote = connection.ops.quote_name

    def column(model, alias: str, name: str) -> str:
        return f"{alias}.{quote(model._meta.get_field(name).column)}"

    tokens_end = f"MAX(COALESCE({column(BotSession, 's', 'revoked_at')}, {column(BotSession, 's', 'expires_at')}))"
    if vendor == "postgresql":  # as ModelColumns selects a timestamp there
        tokens_end = f"(EXTRACT(EPOCH FROM {tokens_end}) * 1000000)::bigint"
    conversation_key = column(Conversation, "c", "id")
    # The live-rows rule of Conversation.objects (sessions_app.models): a deleted bot's or a deleted
    # owner's conversation is not found.
    return (
        f"SELECT {_CONVERSATION.select_list(connection)},"  # noqa: S608
        f" (SELECT {column(Message, 'm', 'id')} FROM {quote(Message._meta.db_table)} m"
        f"   WHERE {column(Message, 'm', 'conversation')} = {conversation_key}"
        f"   ORDER BY {column(Message, 'm', 'id')} DESC LIMIT 1),"
        f" (SELECT {tokens_end} FROM {quote(BotSession._meta.db_table)} s"
        f"   WHERE {column(BotSession, 's', 'conversation')} = {conversation_key}"
        f"   AND {column(BotSession, 's', 'issued_first_at')} = %s)"
        f" FROM {quote(Conversation._meta.db_table)} c"
        f" WHERE {conversation_key} = %s"
        f" AND NOT EXISTS (SELECT 1 FROM {quote(Bot._meta.db_table)} b"
        f"   WHERE {column(Bot, 'b', 'id')} = {column(Conversation, 'c', 'bot')}"
        f"   AND {column(Bot, 'b', 'deleted_at')} IS NOT NULL)"
        f" AND NOT EXISTS (SELECT 1 FROM {quote(OwnerProfile._meta.db_table)} p"
        f"   WHERE {column(OwnerProfile, 'p', 'owner')} = {column(Conversation, 'c', 'owner')}"
        f"   AND {column(OwnerProfile, 'p', 'deleted_at')} IS NOT NULL)"
    )


def stream_line(*, conversation_id, issued_first_at) -> StreamLine | None:
    """What a socket following the token line `issued_first_at` (a token and those refreshed from it)
    knows of its conversation now, or None if the conversation is gone: one statement."""
    issued = BotSession._meta.get_field("issued_first_at").get_db_prep_value(issued_first_at, connection)
    key = Conversation._meta.pk.get_db_prep_value(conversation_id, connection)
    with connection.cursor() as cursor:
        cursor.execute(_stream_line_sql(connection.vendor), [issued, key])
        row = cursor.fetchone()
    if row is None:
        return None
    real = connections[connection.alias]
    conversation_at = len(_CONVERSATION)
    last_activity_at, updated_at, ended_at = _CONVERSATION.values(row[:conversation_at], real)
    last_message = row[conversation_at]
    (tokens_end,) = _TOKENS_END.values(row[conversation_at + 1 :], real)
    return StreamLine(
        last_activity_at=last_activity_at,
        marks=(updated_at, ended_at, last_message),
        ended_at=ended_at,
        tokens_end=tokens_end,
    )


def stream_session(*, bot_session_id: int) -> BotSession | None:
    """The token a stream URL names, its conversation, the conversation's bot and Direct Line state
    loaded with it: one statement. None if there is none, or if the owner has been deactivated. Whether
    the conversation is live is `stream_line`'s to say."""
    return bot_session_by_id(bot_session_id=bot_session_id, also=(STATE,), with_bot=True)
