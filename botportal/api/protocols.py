"""Which wire protocol a path speaks, so that errors raised outside a view still answer in its shape."""

from django.http import JsonResponse
from django.views import csrf, defaults
from django.views.decorators.csrf import csrf_exempt

from botportal.api.errors import error_body
from sessions_app.api.einstein.errors import einstein_error_response, is_einstein_path
from sessions_app.protocols.directline.errors import directline_error_response, is_directline_path

CHATBOTKIT_PREFIXES = ("/api/", "/v1/")
# The prefixes themselves, without their slash, belong to the protocol too (no redirect to "/api/").
CHATBOTKIT_ROOTS = ("/api", "/v1")


def is_chatbotkit_path(path: str) -> bool:
    return path.startswith(CHATBOTKIT_PREFIXES) or path in CHATBOTKIT_ROOTS


def error_response(request, status: int, message: str):
    """An error in the shape of the protocol the request's path speaks, or None for other paths."""
    if is_einstein_path(request.path):
        # The Einstein runtime has no 413: an oversized body is a bad request there.
        return einstein_error_response(request, 400 if status == 413 else status, message)
    if is_directline_path(request.path):
        return directline_error_response(status, message)
    if is_chatbotkit_path(request.path):
        return JsonResponse(error_body(status, message), status=status)
    return None


# Any method: an unknown path is a 404 whatever is asked of it. No CSRF check either: the API
# authenticates with bearer credentials, never with cookies, and the check would answer an HTML 403.
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
