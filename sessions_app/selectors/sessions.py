"""Reads of bot sessions."""

from botportal.rows import JoinedLookup
from sessions_app.models import BotSession

# Every request made with a session token starts with this lookup, so its SQL is written once per
# process (`botportal.rows`): Django compiling the same join on each request cost twice the query.
_BY_DIGEST = JoinedLookup(BotSession, relation="conversation", by="token_digest")


def bot_session_by_digest(*, token_digest: str) -> BotSession | None:
    """The session with this token digest, its conversation loaded with it: one indexed query."""
    return _BY_DIGEST.get(token_digest)
