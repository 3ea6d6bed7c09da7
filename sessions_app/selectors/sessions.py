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


# Every request made with a session token starts with this lookup, so its SQL is written once per
# process (`botportal.rows`): Django compiling the same join on each request cost twice the query.
# A protocol may want its own state of the conversation in the same statement: `also`.
_BY_DIGEST: dict[tuple[tuple[str, ...], bool], JoinedLookup] = {}


def bot_session_by_digest(
    *, token_digest: str, also: tuple[str, ...] = (), with_bot: bool = False
) -> BotSession | None:
    """The session with this token digest, its conversation loaded with it: one indexed query. None if
    there is none, or if the conversation's owner has been deactivated. `also`: reverse one-to-one
    relations of the conversation (a protocol's state) loaded with it (`JoinedLookup`). `with_bot`: the
    conversation's bot too, in the same statement, whatever its state (deleted or not: the caller judges)."""
    key = (also, with_bot)
    lookup = _BY_DIGEST.get(key)
    if lookup is None:
        lookup = _BY_DIGEST[key] = JoinedLookup(
            BotSession,
            relation="conversation",
            by="token_digest",
            then="bot" if with_bot else None,
            where=_owner_is_active,
            related_also=also,
        )
    return lookup.get(token_digest)
