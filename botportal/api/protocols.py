"""Which wire protocol a path speaks, so that errors raised outside a view still answer in its shape."""

from django.http import JsonResponse
from django.views import defaults

from botportal.api.errors import error_body
from sessions_app.api.einstein.errors import einstein_error_response, is_einstein_path

CHATBOTKIT_PREFIXES = ("/api/", "/v1/")


def error_response(request, status: int, message: str):
    """An error in the shape of the protocol the request's path speaks, or None for other paths."""
    if is_einstein_path(request.path):
        # The Einstein runtime has no 413: an oversized body is a bad request there.
        return einstein_error_response(request, 400 if status == 413 else status, message)
    if request.path.startswith(CHATBOTKIT_PREFIXES):
        return JsonResponse(error_body(status, message), status=status)
    return None


def api_not_found(request, *args, **kwargs):
    return error_response(request, 404, f"No resource at {request.path}.")


def handler404(request, exception=None):
    return error_response(request, 404, f"No resource at {request.path}.") or defaults.page_not_found(
        request, exception
    )


def handler500(request):
    return error_response(request, 500, "Internal server error.") or defaults.server_error(request)
