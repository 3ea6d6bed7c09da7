"""Reads of bot sessions."""

from django.contrib.auth import get_user_model

from botportal.rows import JoinedLookup
from sessions_app.models import BotSession, Conversation


def _owner_is_active(connection) -> str:
    # A deactivated owner's tokens stop with its account, checked in the same statement as the token.
    users = get_user_model()._meta
    quote = connection.ops.quote_name
    owner = quote(Conversation._meta.get_field("owner").column)
    return (
        f"EXISTS (SELECT 1 FROM {quote(users.db_table)} u"  # noqa: S608
        f" WHERE u.{quote(users.pk.column)} = r.{owner} AND u.{quote(users.get_field('is_active').column)})"
    )


# Every request made with a session token starts with this lookup (and every Direct Line socket with its
# by-id twin), so its SQL is written once per process (`botportal.rows`): Django compiling the same join
# on each request cost twice the query. A protocol may want its own state of the conversation in the
# same statement: `also`.
_LOOKUPS: dict[tuple[str, tuple[str, ...], bool], JoinedLookup] = {}


def _lookup(by: str, also: tuple[str, ...], with_bot: bool) -> JoinedLookup:
    key = (by, also, with_bot)
    lookup = _LOOKUPS.get(key)
    if lookup is None:
        lookup = _LOOKUPS[key] = JoinedLookup(
            BotSession,
            relation="conversation",
            by=by,
            then="bot" if with_bot else None,
            where=_owner_is_active,
            related_also=also,
        )
    return lookup


def bot_session_by_digest(
    *, token_digest: str, also: tuple[str, ...] = (), with_bot: bool = False
) -> BotSession | None:
    """The session with this token digest, its conversation loaded with it: one indexed query. None if
    there is none, or if the conversation's owner has been deactivated. `also`: reverse one-to-one
    relations of the conversation (a protocol's state) loaded with it (`JoinedLookup`). `with_bot`: the
    conversation's bot too, in the same statement, whatever its state (deleted or not: the caller judges)."""
    return _lookup("token_digest", also, with_bot).get(token_digest)


def bot_session_by_id(*, bot_session_id: int, also: tuple[str, ...] = (), with_bot: bool = False) -> BotSession | None:
    """`bot_session_by_digest`, by the session's id (a credential that names the session, such as a
    signed stream URL)."""
    return _lookup("id", also, with_bot).get(bot_session_id)
