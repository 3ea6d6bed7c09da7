"""Errors of the Einstein Bots runtime protocol: every one is the spec's `Error` object.

`einstein_error_response(request, status, message)` is also what a root handler404/handler500 calls
for paths of this protocol, so that nothing under it ever answers with an HTML page.
"""

import logging
import time
import uuid

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import Http404, JsonResponse
from rest_framework.exceptions import Throttled

from botportal.api.protocols import protocol_for_path
from botportal.errors import Conflict, DomainError

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
MAX_REQUEST_ID_LENGTH = 200

# The error names the spec defines, by status. Statuses it has no name for use the nearest one.
ERROR_NAMES = {
    400: "BadRequestError",
    401: "UnauthorizedError",
    403: "ForbiddenError",
    404: "NotFoundError",
    405: "BadRequestError",
    413: "BadRequestError",
    415: "BadRequestError",
    422: "RequestProcessingException",
    423: "ServerBusyError",
    429: "TooManyRequestsError",
    503: "ServiceUnavailable",
}

def is_einstein_path(path: str) -> bool:
    """Paths of this protocol (its `protocol.py` says which): a root 404/500 handler renders errors on them here."""
    protocol = protocol_for_path(path)
    return protocol is not None and protocol.name == "einstein"


def request_id(request) -> str:
    """The client's X-Request-ID, or one generated for this request; the same value all along."""
    existing = getattr(request, "_einstein_request_id", None)
    if existing:
        return existing
    given = (request.headers.get(REQUEST_ID_HEADER) or "").strip()
    value = given[:MAX_REQUEST_ID_LENGTH] if given else str(uuid.uuid4())
    request._einstein_request_id = value
    return value


def error_name(status: int) -> str:
    return ERROR_NAMES.get(status) or ("RequestProcessingException" if status >= 500 else "BadRequestError")


def einstein_error_response(request, status: int, message: str) -> JsonResponse:
    rid = request_id(request)
    body = {
        "status": status,
        "path": request.path,
        "requestId": rid,
        "error": error_name(status),
        "message": message,
        "timestamp": int(time.time() * 1000),
    }
    response = JsonResponse(body, status=status)
    response[REQUEST_ID_HEADER] = rid
    return response


def einstein_handler404(request, exception=None) -> JsonResponse | None:
    """For a root handler404: the protocol's 404 on its own paths, None elsewhere."""
    if not is_einstein_path(request.path):
        return None
    return einstein_error_response(request, 404, f"No resource at {request.path}.")


def einstein_handler500(request) -> JsonResponse | None:
    """For a root handler500: the protocol's error object on its own paths, None elsewhere."""
    if not is_einstein_path(request.path):
        return None
    return einstein_error_response(request, 500, "The request could not be processed because of an internal error.")


def einstein_error_parts(exc) -> tuple[int, str]:
    """The status and message an exception answers with in the Einstein protocol (ChatBotKit's is
    botportal.api.errors.error_parts)."""
    if isinstance(exc, Conflict):
        return 422, exc.message
    if isinstance(exc, DomainError):
        return exc.status, exc.message
    if isinstance(exc, Throttled):
        return 429, f"Too many requests; retry after {exc.wait} seconds."
    if isinstance(exc, Http404):
        return 404, "Resource not found."
    if isinstance(exc, PermissionDenied):
        return 403, "User forbidden from accessing the resource."
    if isinstance(exc, RequestDataTooBig):
        return 400, "The request body is too large."
    if isinstance(exc, SuspiciousOperation):
        return 400, "Bad request."
    return 500, "The request could not be processed because of an internal error."


def einstein_exception_response(request, exc) -> JsonResponse:
    status, message = einstein_error_parts(exc)
    if status >= 500:
        logger.exception("unhandled error on %s %s", request.method, request.path, exc_info=exc)
    response = einstein_error_response(request, status, message)
    if isinstance(exc, Throttled) and exc.wait is not None:
        response["Retry-After"] = str(exc.wait)
    return response
