"""Direct Line's error shape: `{"error": {"code", "message"}}`, the status saying what the client does next
(401 bad credentials, 403 TokenExpired: directlinejs stops and reports ExpiredToken, 404: Ended, 429)."""

import logging
import math

from django.http import JsonResponse
from rest_framework.exceptions import Throttled

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


class DirectLineThrottled(Throttled):
    """A 429 whose Retry-After is already written in the unit its client reads (see `retry_after`)."""

    def __init__(self, wait: float, retry_after: str):
        super().__init__(wait=wait)
        self.retry_after = retry_after


def retry_after(request, wait: float) -> str:
    """Retry-After of a 429: seconds, as HTTP says, except to directlinejs, which reads milliseconds.

    directlinejs's 429 handler (Web Chat's copy too) holds a refused call for `Number(Retry-After)`
    milliseconds and only then reports it, never retrying it itself: in milliseconds, a post's failure
    shows once sending again works, and a refresh's or reconnect's own retry comes after the wait; seconds
    would be read as a few milliseconds. (In 0.15.8, and Web Chat 4.18.1's 0.15.5, that handler runs only
    where the application has loaded rxjs's Observable.timer, which directlinejs calls but never loads;
    elsewhere it fails before reading the header, and any value goes unread: tests/compat shows both.)
    It names itself in `x-ms-bot-agent` ("DirectLine/3.0 (directlinejs ... 0.15.8)"); every other client
    gets seconds."""
    seconds = max(1, math.ceil(wait))
    if "directlinejs" in (request.headers.get("x-ms-bot-agent") or "").lower():
        return str(seconds * 1000)
    return str(seconds)


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
    if isinstance(exc, DirectLineThrottled):
        # The value depends on the client's x-ms-bot-agent.
        headers = {**headers, "Retry-After": exc.retry_after, "Vary": "x-ms-bot-agent"}
    if status >= 500:
        logger.error("error in a Direct Line request", exc_info=exc)
    return directline_error_response(status, message, headers=headers)
