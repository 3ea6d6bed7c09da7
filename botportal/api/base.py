"""Shared plumbing for the /api/v1 views: JSON only, bodies that must be JSON objects, epoch milliseconds."""

from rest_framework import exceptions
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.views import APIView

from botportal import validation
from botportal.api.throttles import SLOTS_ATTRIBUTE, SlotsToGiveBack, throttles_refusing
from botportal.errors import InvalidInput


class JsonOnlyNegotiation(DefaultContentNegotiation):
    """Always answer with the first renderer (JSON), whatever Accept says.

    Streaming routes read `Accept: application/jsonl` themselves; errors are JSON in every case,
    never a 406.
    """

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class JsonApiView(APIView):
    content_negotiation_class = JsonOnlyNegotiation

    def check_permissions(self, request):
        # A method the view does not serve is its 405 for anyone, credentials or none: there is nothing
        # behind it to guard, and a client learns its mistake rather than a 401 it cannot fix.
        method = request.method.lower()
        if method not in self.http_method_names or not hasattr(self, method):
            return
        super().check_permissions(request)

    def check_throttles(self, request):
        # DRF's, with the rate throttles decided together (one round trip to Redis for all of them, which
        # gives back the slot a good credential took from the failed-authentication guard).
        refused = throttles_refusing(self.get_throttles(), request, self, slots=getattr(request, SLOTS_ATTRIBUTE, None))
        if refused:
            durations = [wait for wait in (throttle.wait() for throttle in refused) if wait is not None]
            self.throttled(request, max(durations, default=None))

    def initial(self, request, *args, **kwargs):
        # Authentication, permissions, throttles: a good credential's failed-authentication slot is given
        # back with the throttles, or at the end of this however it ends (a 403, a 405...).
        with SlotsToGiveBack() as slots:
            setattr(request, SLOTS_ATTRIBUTE, slots)
            try:
                super().initial(request, *args, **kwargs)
            finally:
                delattr(request, SLOTS_ATTRIBUTE)
        # Oversized bodies never get here: botportal.middleware.RequestBodyLimitMiddleware refuses them.
        if request.method == "POST" and not request.content_type and _content_length(request) > 0:
            raise exceptions.UnsupportedMediaType("")

    @staticmethod
    def body(request) -> dict:
        """The request's JSON body, which must be an object (an empty body counts as `{}`)."""
        data = request.data
        if hasattr(data, "dict"):  # an empty body parses to an empty QueryDict
            data = data.dict()
        if not isinstance(data, dict):
            raise InvalidInput("The request body must be a JSON object.")
        validation.refuse_unstorable(data)
        return data


def _content_length(request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def epoch_ms(value) -> int | None:
    return None if value is None else int(value.timestamp() * 1000)
