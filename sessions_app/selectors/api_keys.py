"""Reads of API keys."""

from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, connections

from botportal.rows import ModelColumns
from sessions_app.models import ApiKey, OwnerProfile


class _ActiveKeyLookup:
    """The active key with a digest, its owner and the owner's profile, in one statement written once per
    process (`botportal.rows`): every request made with an API secret starts with it, and Django
    compiling the same two joins on each request cost several times the query."""

    def __init__(self):
        self.key = ModelColumns(ApiKey, "k")
        self.owner = ModelColumns(get_user_model(), "u")
        self.profile = ModelColumns(OwnerProfile, "p")
        self._owner_field = ApiKey._meta.get_field("owner")
        self._profile_rel = get_user_model()._meta.get_field("botportal_profile")
        self._profile_key = self.profile.attnames.index(OwnerProfile._meta.pk.attname)
        self._statements: dict[str, str] = {}

    def _sql(self, connection) -> str:
        if connection.vendor not in self._statements:
            quote = connection.ops.quote_name
            self._statements[connection.vendor] = (
                f"SELECT {self.key.select_list(connection)}, {self.owner.select_list(connection)},"  # noqa: S608
                f" {self.profile.select_list(connection)}"
                f" FROM {quote(self.key.table)} k"
                f" JOIN {quote(self.owner.table)} u ON {self.owner.column(self.owner.model._meta.pk.name, connection)}"
                f" = {self.key.column('owner', connection)}"
                f" LEFT JOIN {quote(self.profile.table)} p ON {self.profile.column('owner', connection)}"
                f" = {self.owner.column(self.owner.model._meta.pk.name, connection)}"
                f" WHERE {self.key.column('digest', connection)} = %s AND {self.key.column('revoked_at', connection)}"
                f" IS NULL AND {self.owner.column('is_active', connection)}"
            )
        return self._statements[connection.vendor]

    def get(self, digest: str, *, using: str = DEFAULT_DB_ALIAS) -> ApiKey | None:
        connection = connections[using]
        with connection.cursor() as cursor:
            cursor.execute(self._sql(connection), [digest])
            row = cursor.fetchone()
        if row is None:
            return None
        keys, owners = len(self.key), len(self.owner)
        api_key = self.key.instance(row[:keys], using=using)
        owner = self.owner.instance(row[keys : keys + owners], using=using)
        profile_values = row[keys + owners :]
        profile = None
        if profile_values[self._profile_key] is not None:
            profile = self.profile.instance(profile_values, using=using)
            self._profile_rel.field.set_cached_value(profile, owner)
        # What select_related("owner__botportal_profile") caches: the owner, and the profile or None
        # (the accessor then raises DoesNotExist without a query).
        self._owner_field.set_cached_value(api_key, owner)
        self._profile_rel.set_cached_value(owner, profile)
        return api_key


_ACTIVE_KEY = None


def api_key_active_by_digest(*, digest: str) -> ApiKey | None:
    """The key with this digest if it is not revoked and its owner is active; its owner and the owner's
    profile (the org id) loaded with it."""
    global _ACTIVE_KEY
    if _ACTIVE_KEY is None:
        _ACTIVE_KEY = _ActiveKeyLookup()
    return _ACTIVE_KEY.get(digest)
