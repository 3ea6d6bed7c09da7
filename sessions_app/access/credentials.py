"""Secrets and tokens: generated from the OS's CSPRNG, stored only as SHA-256 digests."""

import hashlib
import hmac
import secrets
from datetime import timedelta

API_SECRET_PREFIX = "sk-"  # noqa: S105 (a public marker, not a secret)
DISPLAY_PREFIX_LENGTH = 10

# Recording every use of a credential (API key or session token) would turn each authenticated read
# into a write; once a minute is enough for "last used".
LAST_USED_RESOLUTION = timedelta(minutes=1)


def last_use_due(last_used_at, now) -> bool:
    """Whether a use at `now` is to be recorded: never recorded, or last recorded over LAST_USED_RESOLUTION ago."""
    return last_used_at is None or now - last_used_at > LAST_USED_RESOLUTION


def new_api_secret() -> str:
    return API_SECRET_PREFIX + secrets.token_urlsafe(32)


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def digests_match(stored_digest: str, presented_value: str) -> bool:
    return hmac.compare_digest(stored_digest, digest(presented_value))


def is_api_secret(value: str) -> bool:
    return value.startswith(API_SECRET_PREFIX)
