from django.conf import settings

from botportal.api.protocols import error_response


class RequestBodyLimitMiddleware:
    """Refuse an API request whose declared body is over the limit before anything reads it."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.limit = settings.BOTPORTAL["MAX_BODY_BYTES"]

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > self.limit:
            response = error_response(
                request, 413, f"The request body is {length} bytes; the limit is {self.limit} bytes."
            )
            if response is not None:
                return response
        return self.get_response(request)
