"""Which wire protocol a path belongs to, so errors raised outside a view still answer in its shape."""

from django.http import JsonResponse

from botportal.api.errors import error_body

EINSTEIN_PREFIXES = ("/v5.0.0/", "/status", "/versions")
CHATBOTKIT_PREFIXES = ("/api/v1/", "/v1/")


def error_response(request, status: int, message: str, headers: dict | None = None):
    """An error in the shape of the protocol the request's path speaks, or None for other paths."""
    path = request.path
    if path.startswith(EINSTEIN_PREFIXES):
        from sessions_app.api.einstein.errors import einstein_error_response

        return einstein_error_response(request, status, message, headers=headers)
    if path.startswith(CHATBOTKIT_PREFIXES) or path.startswith("/api/"):
        return JsonResponse(error_body(status, message), status=status, headers=headers)
    return None
