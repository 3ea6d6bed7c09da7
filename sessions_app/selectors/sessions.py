"""Reads of bot sessions."""

from functools import cache

from django.db import connection

from botportal.rows import ModelColumns
from sessions_app.models import BotSession, Conversation

_SESSION = ModelColumns(BotSession, "s")
_CONVERSATION = ModelColumns(Conversation, "c")


@cache
def _by_digest_sql(vendor: str) -> str:
    quote = connection.ops.quote_name
    return (
        f"SELECT {_SESSION.select_list(connection)}, {_CONVERSATION.select_list(connection)}"  # noqa: S608
        f" FROM {quote(_SESSION.table)} s JOIN {quote(_CONVERSATION.table)} c"
        f" ON {_CONVERSATION.column('id', connection)} = {_SESSION.column('conversation', connection)}"
        f" WHERE {_SESSION.column('token_digest', connection)} = %s"
    )


def bot_session_by_digest(*, token_digest: str) -> BotSession | None:
    """The session with this token digest, its conversation loaded with it: one indexed query.

    Every request made with a session token starts here, so the SQL is written once per process
    (`botportal.rows`); Django compiling the same join on each request cost twice the query itself.
    """
    with connection.cursor() as cursor:
        cursor.execute(_by_digest_sql(connection.vendor), [token_digest])
        row = cursor.fetchone()
    if row is None:
        return None
    bot_session = _SESSION.instance(row[: len(_SESSION)], using=connection.alias)
    bot_session.conversation = _CONVERSATION.instance(row[len(_SESSION) :], using=connection.alias)
    return bot_session
