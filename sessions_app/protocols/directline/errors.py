"""Direct Line's error shape: `{"error": {"code", "message"}}`, the status saying what the client does next
(401 bad credentials, 403 TokenExpired: directlinejs stops and reports ExpiredToken, 404: Ended, 429)."""

import logging

from django.http import JsonResponse

from botportal.api.errors import error_parts
from sessions_app.services.sessions import SessionExpired

logger = logging.getLogger(__name__)

# Where Direct Line is served (clients pass BASE_URL + PREFIX as their domain): its one spelling.
PREFIX = "/v3/directline"

CODES = {
    400: "BadArgument",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    413: "MessageSizeTooBig",
    415: "BadArgument",
    423: "Conflict",
    429: "TooManyRequests",
}

# Answers of any origin carry these, errors included, so that a browser lets the client read them; never
# credentials mode (Direct Line authenticates with a bearer header, not cookies).
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "Retry-After",
}


def is_directline_path(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


class TokenExpired(Exception):
    """A token that was valid and no longer is (expired, revoked, its conversation over)."""


def directline_error_response(status: int, message: str, *, code: str | None = None, headers=None) -> JsonResponse:
    code = code or CODES.get(status, "ServiceError" if status >= 500 else "BadArgument")
    response = JsonResponse({"error": {"code": code, "message": message}}, status=status)
    for name, value in {**CORS_HEADERS, **(headers or {})}.items():
        response[name] = value
    return response


def directline_exception_response(exc) -> JsonResponse:
    if isinstance(exc, SessionExpired | TokenExpired):
        return directline_error_response(403, str(exc) or "The token has expired.", code="TokenExpired")
    status, message, headers = error_parts(exc)
    if status >= 500:
        logger.error("error in a Direct Line request", exc_info=exc)
    return directline_error_response(status, message, headers=headers)
