"""The registry of wire protocols: where each is mounted, which paths it owns, and its error shape.

Each protocol package declares one `Protocol` (in its `protocol.py`) and settings.BOTPORTAL_PROTOCOLS
lists them by dotted path, so that botportal names no app: the root URLconf mounts every protocol's routes
from here, the OpenAPI hook documents the limits of the mounts botportal's schema covers, and errors
raised outside any view (the root 400/403/404/500 handlers, the CSRF failure view, the body-size
middleware) answer in the shape of the protocol the path speaks.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.urls import include, path, re_path
from django.utils.module_loading import import_string
from django.views import csrf, defaults
from django.views.decorators.csrf import csrf_exempt

from botportal.api.permissions import public


@dataclass(frozen=True)
class Protocol:
    name: str
    # Its URLconf, mounted at each (route prefix, URL namespace) of `mounts`; the first mount is the canonical one.
    urls: str
    mounts: tuple[tuple[str, str], ...]
    # Paths that belong to it (prefixes, and exact paths such as a bare prefix): errors on them are in its shape.
    paths: tuple[str, ...]
    roots: tuple[str, ...]
    # (request, status, message) -> the protocol's error response.
    error_response: Callable[[HttpRequest, int, str], HttpResponse]
    # Its own OpenAPI document; None when botportal's generated schema (/api/schema/) documents it,
    # unless `in_generated_schema` is off (a protocol whose contract is another's published document).
    spec: Path | None = None
    in_generated_schema: bool = True
    # Whether anything else under its roots is a 404 in its shape (a protocol may route its own 404s instead).
    catch_all: bool = False
    # Dotted path of its WebSocket URL patterns (Channels consumers, routed by botportal/asgi.py), if any.
    websocket_urls: str | None = None

    def owns(self, path: str) -> bool:
        return path.startswith(self.paths) or path in self.roots

    @property
    def base_path(self) -> str:
        """Where its canonical mount is, without the trailing slash: "/api/v1"."""
        return "/" + self.mounts[0][0].rstrip("/")


@cache
def protocols() -> tuple[Protocol, ...]:
    return tuple(import_string(dotted) for dotted in settings.BOTPORTAL_PROTOCOLS)


@receiver(setting_changed)
def _protocols_reload(*, setting, **kwargs):
    if setting == "BOTPORTAL_PROTOCOLS":
        protocols.cache_clear()


def protocol_get(name: str) -> Protocol:
    for protocol in protocols():
        if protocol.name == name:
            return protocol
    raise LookupError(f"No protocol {name!r} in BOTPORTAL_PROTOCOLS.")


def protocol_for_path(path: str) -> Protocol | None:
    return next((protocol for protocol in protocols() if protocol.owns(path)), None)


def schema_prefixes() -> tuple[str, ...]:
    """The path prefixes of the routes botportal's generated OpenAPI document describes."""
    return tuple(
        f"/{prefix}" for p in protocols() if p.spec is None and p.in_generated_schema for prefix, _ in p.mounts
    )


def protocol_urlpatterns() -> list:
    """Every protocol's routes at each of its mounts, then the catch-all 404 of those that want one."""
    patterns = [
        path(prefix, include((protocol.urls, namespace), namespace=namespace))
        for protocol in protocols()
        for prefix, namespace in protocol.mounts
    ]
    for protocol in protocols():
        if protocol.catch_all:
            roots = "|".join(re.escape(root.strip("/")) for root in protocol.roots)
            # Any method, in DEBUG too: an unknown path is a 404 whatever is asked of it.
            patterns.append(re_path(rf"^({roots})(?:/|$)", api_not_found))
    return patterns


def websocket_urlpatterns() -> list:
    """Every protocol's WebSocket routes, for the ASGI application's WebSocket router."""
    return [
        pattern
        for protocol in protocols()
        if protocol.websocket_urls
        for pattern in import_string(protocol.websocket_urls)
    ]


def is_api_path(path: str) -> bool:
    """A path of a wire protocol: bearer credentials, JSON errors, no cookies."""
    return protocol_for_path(path) is not None


def error_response(request, status: int, message: str):
    """An error in the shape of the protocol the request's path speaks, or None for other paths."""
    protocol = protocol_for_path(request.path)
    return protocol.error_response(request, status, message) if protocol is not None else None


# No CSRF check: the API authenticates with bearer credentials, never with cookies, and the check
# would answer an HTML 403.
@public  # every caller gets the same 404
@csrf_exempt
def api_not_found(request, *args, **kwargs):
    return error_response(request, 404, f"No resource at {request.path}.")


def handler400(request, exception=None):
    return error_response(request, 400, "Bad request.") or defaults.bad_request(request, exception)


def handler403(request, exception=None):
    return error_response(request, 403, "You are not allowed to do this.") or defaults.permission_denied(
        request, exception
    )


def handler404(request, exception=None):
    return error_response(request, 404, f"No resource at {request.path}.") or defaults.page_not_found(
        request, exception
    )


def handler500(request):
    return error_response(request, 500, "Internal server error.") or defaults.server_error(request)


def csrf_failure(request, reason=""):
    """CSRF_FAILURE_VIEW: the API's views need no CSRF token; should one ever be asked for, say so in JSON."""
    return error_response(request, 403, f"CSRF verification failed: {reason}") or csrf.csrf_failure(request, reason)
