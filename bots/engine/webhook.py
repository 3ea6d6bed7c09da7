"""Calling an owner's HTTPS webhook without letting a bot definition reach into the private network."""

import asyncio
import ipaddress
import json
import socket
from urllib.parse import urlsplit

from asgiref.sync import async_to_sync
from django.conf import settings

from . import transport


class WebhookError(Exception):
    pass


def _options() -> dict:
    config = getattr(settings, "BOTPORTAL", {})
    return {
        "allow_private": bool(config.get("WEBHOOK_ALLOW_PRIVATE", False)),
        "timeout": float(config.get("WEBHOOK_TIMEOUT", 5)),
        "max_bytes": int(config.get("WEBHOOK_MAX_BYTES", 64 * 1024)),
    }


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast)


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
    public = all(_is_public(a) for a in addresses)
    if not public and not options["allow_private"]:
        raise WebhookError("the webhook URL points to a private, loopback or link-local address")
    # Plain HTTP is only for a development server on an allowed private address.
    if parts.scheme == "http" and (public or not options["allow_private"]):
        raise WebhookError("the webhook URL must be an https:// URL")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return parts.scheme, parts.hostname, port, path, addresses[0]


async def acall(url: str, payload: dict, *, headers: dict | None = None) -> dict:
    """POST `payload` as JSON and answer the decoded JSON reply (an object), or raise WebhookError.

    The host name is resolved and checked once (`resolve`) and the request goes to exactly that address,
    with the name kept for the Host header and TLS (SNI and the certificate check). One deadline bounds
    the lookup, connecting, the headers and the whole body; redirects are not followed.
    """
    options = _options()
    deadline = transport.deadline_in(options["timeout"])
    try:
        async with asyncio.timeout_at(deadline):
            scheme, host, port, path, address = await asyncio.to_thread(resolve, url)
    except TimeoutError as error:
        raise WebhookError("the webhook took too long to answer") from error
    literal = f"[{address}]" if ":" in address else address
    default_port = 443 if scheme == "https" else 80
    request_headers = {"Content-Type": "application/json", "Accept": "application/json", "User-Agent": "botportal"}
    request_headers.update(headers or {})
    request_headers["Host"] = host if port == default_port else f"{host}:{port}"
    extensions = {"sni_hostname": host} if scheme == "https" else None
    try:
        async with transport.stream(
            "POST",
            f"{scheme}://{literal}:{port}{path}",
            deadline=deadline,
            content=json.dumps(payload).encode(),
            headers=request_headers,
            extensions=extensions,
            pooled=False,
        ) as response:
            data = await transport.read_until(response, deadline=deadline, max_bytes=options["max_bytes"])
            status = response.status_code
    except transport.DeadlineExceeded as error:
        raise WebhookError("the webhook took too long to answer") from error
    except transport.TooLarge as error:
        raise WebhookError("the webhook reply is larger than allowed") from error
    except transport.TransportError as error:
        raise WebhookError(f"the webhook call failed: {error}") from error
    if not 200 <= status < 300:
        raise WebhookError(f"the webhook answered HTTP {status}")
    if not data.strip():
        return {}
    try:
        decoded = json.loads(data)
    except ValueError as error:
        raise WebhookError("the webhook reply is not JSON") from error
    if not isinstance(decoded, dict):
        raise WebhookError("the webhook reply must be a JSON object")
    return decoded


def call(url: str, payload: dict, *, headers: dict | None = None) -> dict:
    """`acall` for synchronous callers (outside an event loop)."""
    return async_to_sync(acall)(url, payload, headers=headers)
