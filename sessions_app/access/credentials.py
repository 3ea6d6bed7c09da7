"""Secrets and tokens: generated from the OS's CSPRNG, stored only as SHA-256 digests."""

import hashlib
import hmac
import secrets

API_SECRET_PREFIX = "sk-"  # noqa: S105 (a public marker, not a secret)
DISPLAY_PREFIX_LENGTH = 10


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
