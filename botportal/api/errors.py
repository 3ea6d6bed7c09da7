"""Error rendering for the ChatBotKit v1 format: every error is `{"message": ..., "code": ...}`."""

import logging

from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.http import Http404
from django.http.multipartparser import MultiPartParserError
from rest_framework import exceptions, status
from rest_framework.response import Response

from botportal.errors import DomainError, InvalidInput

logger = logging.getLogger(__name__)

CODES = {
    400: "BAD_REQUEST",
    401: "NOT_AUTHENTICATED",
    403: "NOT_AUTHORIZED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "BAD_REQUEST",
    415: "BAD_REQUEST",
    423: "CONFLICT",
    429: "TOO_MANY_REQUESTS",
    500: "INTERNAL_SERVER_ERROR",
}


def error_body(status_code: int, message: str) -> dict:
    return {
        "message": message,
        "code": CODES.get(status_code, "INTERNAL_SERVER_ERROR" if status_code >= 500 else "BAD_REQUEST"),
    }


def _flatten(detail, prefix: str = "") -> list[str]:
    """DRF validation details as 'field: problem' strings."""
    if isinstance(detail, dict):
        return [
            item
            for key, value in detail.items()
            for item in _flatten(value, f"{prefix}{key}." if key != "non_field_errors" else prefix)
        ]
    if isinstance(detail, list):
        return [item for value in detail for item in _flatten(value, prefix)]
    name = prefix.rstrip(".")
    return [f"{name}: {detail}" if name else str(detail)]


def error_parts(exc) -> tuple[int, str, dict]:
    """The status, message and extra headers an exception answers with."""
    if isinstance(exc, DomainError):
        return exc.status, exc.message, {}
    if isinstance(exc, Http404):
        return 404, "Not found.", {}
    if isinstance(exc, MultiPartParserError):  # read by a view itself, not by DRF's parser (which says 400)
        return 400, f"The multipart body could not be read: {exc}.", {}
    if isinstance(exc, SuspiciousOperation):  # what Django's handler would answer 400 (too many fields, ...)
        return 400, "The request could not be read.", {}
    if isinstance(exc, PermissionDenied):
        return 403, "You are not allowed to do this.", {}
    if isinstance(exc, exceptions.ValidationError):
        return 400, "; ".join(_flatten(exc.detail)) or "Invalid input.", {}
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        return 401, str(exc.detail), {}
    if isinstance(exc, exceptions.UnsupportedMediaType):
        return 400, f"{exc.detail} Send JSON with Content-Type: application/json.", {}
    if isinstance(exc, exceptions.Throttled):
        headers = {"Retry-After": str(int(exc.wait))} if exc.wait is not None else {}
        return 429, "Too many requests; try again later.", headers
    if isinstance(exc, exceptions.APIException):
        return (
            exc.status_code,
            str(exc.detail) if not isinstance(exc.detail, dict | list) else "; ".join(_flatten(exc.detail)),
            {},
        )
    return 500, "Internal server error.", {}


def chatbotkit_exception_handler(exc, context):
    status_code, message, headers = error_parts(exc)
    if status_code >= 500:
        logger.exception("unhandled error in %s", context.get("view").__class__.__name__)
    if isinstance(exc, InvalidInput) and not message:
        message = "Invalid input."
    return Response(error_body(status_code, message), status=status_code, headers=headers)


__all__ = ["chatbotkit_exception_handler", "error_body", "error_parts", "status"]
