from django.conf import settings

from botportal.api.protocols import error_response

# A refused body up to this size is read and thrown away, so that the client's connection stays usable
# for its next request: a server that leaves a request body unread drops the connection after the
# response, and a keep-alive client's next request on it then fails. Past this size, reading costs more
# than the client reconnecting, and the response says `Connection: close` instead.
DRAIN_MAX_BYTES = 8 * 1024 * 1024
_DRAIN_CHUNK = 64 * 1024


def declared_body_length(value) -> int:
    """The Content-Length a request declares, 0 when it declares none or nonsense."""
    try:
        return max(0, int(value or 0))
    except ValueError:
        return 0


def _body_discarded(request) -> bool:
    """Read and drop what is left of the request body, up to DRAIN_MAX_BYTES; True if none is left."""
    budget = DRAIN_MAX_BYTES
    while budget > 0:
        chunk = request.read(min(_DRAIN_CHUNK, budget))
        if not chunk:
            return True
        budget -= len(chunk)
    return not request.read(1)


class RequestBodyLimitMiddleware:
    """Refuse an API request whose declared body is over the limit before anything parses it."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.limit = settings.BOTPORTAL["MAX_BODY_BYTES"]

    def __call__(self, request):
        length = declared_body_length(request.META.get("CONTENT_LENGTH"))
        if length > self.limit:
            response = error_response(
                request, 413, f"The request body is {length} bytes; the limit is {self.limit} bytes."
            )
            if response is not None:
                if not _body_discarded(request):
                    # Honoured by uvicorn; gunicorn's sync worker closes every connection anyway.
                    response["Connection"] = "close"
                return response
        return self.get_response(request)
