"""The stream URL's own credential: signed, naming one token's conversation, usable for 60 seconds.

A WebSocket carries no Authorization header, so the URL does; the token itself never appears in a URL
(proxies log them), only this short-lived, signed reference to it."""

from urllib.parse import urlencode

from django.core import signing

from .errors import PREFIX

SALT = "botportal.directline.stream"
MAX_AGE_SECONDS = 60


def stream_credential(*, conversation_id, bot_session_id) -> str:
    return signing.dumps({"c": str(conversation_id), "s": bot_session_id}, salt=SALT, compress=False)


def stream_credential_read(value: str, *, conversation_id) -> int | None:
    """The BotSession id the credential names, or None if it is forged, stale or for another conversation."""
    try:
        payload = signing.loads(value or "", salt=SALT, max_age=MAX_AGE_SECONDS)
    except signing.BadSignature:
        return None
    if not isinstance(payload, dict) or payload.get("c") != str(conversation_id):
        return None
    session_id = payload.get("s")
    return session_id if isinstance(session_id, int) else None


def stream_url(request, *, conversation_id, bot_session_id, watermark: str | None = None) -> str:
    scheme = "wss" if request.is_secure() else "ws"
    query = {"t": stream_credential(conversation_id=conversation_id, bot_session_id=bot_session_id)}
    if watermark is not None:
        query["watermark"] = watermark
    return f"{scheme}://{request.get_host()}{PREFIX}/conversations/{conversation_id}/stream?{urlencode(query)}"
