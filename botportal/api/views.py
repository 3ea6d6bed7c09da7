"""JSON answers for paths under the API prefixes that nothing serves, and for server errors there."""

from django.http import JsonResponse
from django.views import defaults

from botportal.api.errors import error_body

API_PREFIXES = ("/api/", "/v1/")


def _is_api(request) -> bool:
    return request.path.startswith(API_PREFIXES) and not request.path.startswith(("/api/docs/", "/api/schema/"))


def api_not_found(request, *args, **kwargs):
    """The catch-all under /api/v1 and /v1: an unknown route is a JSON 404 for every method."""
    return JsonResponse(error_body(404, f"No such route: {request.method} {request.path}"), status=404)


def handler404(request, exception=None):
    if _is_api(request):
        return api_not_found(request)
    return defaults.page_not_found(request, exception)


def handler500(request):
    if _is_api(request):
        return JsonResponse(error_body(500, "Internal server error."), status=500)
    return defaults.server_error(request)
