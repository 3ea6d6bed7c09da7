"""Direct Line's reads of its own state: the secret a site's back end presents."""

from django.contrib.auth import get_user_model

from botportal.rows import JoinedLookup

from .models import DirectLineSecret


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
