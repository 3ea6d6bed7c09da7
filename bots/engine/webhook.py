"""Calling an owner's HTTPS webhook without letting a bot definition reach into the private network."""

import http.client
import json
import socket
import ssl
import time
from urllib.parse import urlsplit

from django.conf import settings

from bots.engine.netguard import is_public_address


class WebhookError(Exception):
    pass


def _options() -> dict:
    config = getattr(settings, "BOTPORTAL", {})
    return {
        "allow_private": bool(config.get("WEBHOOK_ALLOW_PRIVATE", False)),
        "timeout": float(config.get("WEBHOOK_TIMEOUT", 5)),
        "max_bytes": int(config.get("WEBHOOK_MAX_BYTES", 64 * 1024)),
    }


def resolve(url: str) -> tuple[str, str, int, str, str]:
    """(scheme, host, port, path, the checked address to connect to) or WebhookError.

    The address is resolved once and the connection goes to exactly that address, so a second DNS
    answer cannot swap in a private address after the check (DNS rebinding).
    """
    options = _options()
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise WebhookError("the webhook URL must be an https:// URL")
    if parts.username or parts.password:
        raise WebhookError("the webhook URL must not carry credentials")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise WebhookError(f"cannot resolve {parts.hostname}") from error
    addresses = [info[4][0] for info in infos]
    public = all(is_public_address(a) for a in addresses)
    if not public and not options["allow_private"]:
        raise WebhookError("the webhook URL points to a private, loopback or link-local address")
    # Plain HTTP is only for a development server on an allowed private address.
    if parts.scheme == "http" and (public or not options["allow_private"]):
        raise WebhookError("the webhook URL must be an https:// URL")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return parts.scheme, parts.hostname, port, path, addresses[0]


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host, port, address, **kwargs):
        super().__init__(host, port, context=ssl.create_default_context(), **kwargs)
        self._address = address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host, port, address, **kwargs):
        super().__init__(host, port, **kwargs)
        self._address = address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


def call(url: str, payload: dict, *, headers: dict | None = None) -> dict:
    """POST `payload` as JSON and answer the decoded JSON reply (an object), or raise WebhookError."""
    options = _options()
    scheme, host, port, path, address = resolve(url)
    connection_class = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(host, port, address, timeout=options["timeout"])
    body = json.dumps(payload).encode()
    request_headers = {"Content-Type": "application/json", "Accept": "application/json", "User-Agent": "botportal"}
    request_headers.update(headers or {})
    try:
        connection.request("POST", path, body=body, headers=request_headers)
        response = connection.getresponse()
        # The socket timeout bounds each read; the deadline bounds a server that trickles bytes.
        deadline = time.monotonic() + options["timeout"]
        data = b""
        while len(data) <= options["max_bytes"]:
            chunk = response.read1(8192)
            if not chunk:
                break
            data += chunk
            if time.monotonic() > deadline:
                raise WebhookError("the webhook took too long to answer")
    except (OSError, http.client.HTTPException) as error:
        raise WebhookError(f"the webhook call failed: {error.__class__.__name__}") from error
    finally:
        connection.close()
    if len(data) > options["max_bytes"]:
        raise WebhookError("the webhook reply is larger than allowed")
    if not 200 <= response.status < 300:
        raise WebhookError(f"the webhook answered HTTP {response.status}")
    if not data.strip():
        return {}
    try:
        decoded = json.loads(data)
    except ValueError as error:
        raise WebhookError("the webhook reply is not JSON") from error
    if not isinstance(decoded, dict):
        raise WebhookError("the webhook reply must be a JSON object")
    return decoded
