from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.contrib.auth import middleware as auth_middleware
from django.contrib.messages import middleware as messages_middleware
from django.contrib.sessions import middleware as sessions_middleware
from django.core.exceptions import RequestDataTooBig
from django.middleware import clickjacking, common, csrf, security
from whitenoise.middleware import WhiteNoiseMiddleware

from botportal.api.protocols import error_response, is_api_path

# A refused body up to this size is read and thrown away, so that the client's connection stays usable
# for its next request: a server that leaves a request body unread drops the connection after the
# response, and a keep-alive client's next request on it then fails. Past this size, reading costs more
# than the client reconnecting, and the response says `Connection: close` instead.
DRAIN_MAX_BYTES = 8 * 1024 * 1024
_DRAIN_CHUNK = 64 * 1024


# Set in an ASGI request's scope by botportal.asgi when a body that declared no length (chunked) was cut
# off past the limit: the bytes received by then.
BODY_CUT_OFF = "botportal.body_cut_off"


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


# Every middleware here serves both modes. Under ASGI one synchronous middleware in the chain makes Django
# run the whole chain below it, async views included, from a thread of its own per request, which then
# waits as long as the view does (a streamed answer) and keeps the database connection it used.


class _BothModes:
    """A middleware serving both modes: `_acall` under ASGI (an async chain below), `_call` under WSGI."""

    sync_capable = True
    async_capable = True

    def _modes_init(self, get_response) -> None:
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request):
        return self._acall(request) if self.async_mode else self._call(request)


class RequestBodyLimitMiddleware(_BothModes):
    """Refuse an API request whose declared body is over the limit before anything parses it."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.limit = settings.BOTPORTAL["MAX_BODY_BYTES"]
        self._modes_init(get_response)

    def _call(self, request):
        return self._refusal(request) or self.get_response(request)

    async def _acall(self, request):
        # Under ASGI the body is in memory or a temporary file already (or withheld, botportal.asgi).
        return self._refusal(request) or await self.get_response(request)

    def _refusal(self, request):
        length = declared_body_length(request.META.get("CONTENT_LENGTH"))
        cut_off = getattr(request, "scope", {}).get(BODY_CUT_OFF)
        if length <= self.limit and cut_off is None:
            return None
        if cut_off is not None:
            message = f"The request body is over the limit of {self.limit} bytes."
        else:
            message = f"The request body is {length} bytes; the limit is {self.limit} bytes."
        response = error_response(request, 413, message)
        if response is None and cut_off is not None:
            # Off the API, as Django answers a body declared over DATA_UPLOAD_MAX_MEMORY_SIZE (the same
            # limit): what was cut off would otherwise reach the view as an empty body.
            raise RequestDataTooBig(message)
        if response is not None and not _body_discarded(request):
            # Honoured by uvicorn; gunicorn's sync worker closes every connection anyway.
            response["Connection"] = "close"
        return response


class StaticFilesMiddleware(_BothModes, WhiteNoiseMiddleware):
    """WhiteNoise (settings, storage and behaviour unchanged), serving both modes."""

    def __init__(self, get_response, settings=settings):
        super().__init__(get_response, settings)
        self._modes_init(get_response)

    def _call(self, request):
        return WhiteNoiseMiddleware.__call__(self, request)

    async def _acall(self, request):
        if self.autorefresh:  # development: looks the file up on disk
            static_file = await sync_to_async(self.find_file, thread_sensitive=False)(request.path_info)
        else:
            static_file = self.files.get(request.path_info)
        if static_file is not None:
            return await sync_to_async(self.serve, thread_sensitive=False)(static_file, request)
        return await self.get_response(request)


# Django's own middleware, unchanged in what it does, without the thread hops. Under ASGI, Django runs
# each hook of a middleware written for sync code (MiddlewareMixin) through sync_to_async on the
# request's own thread: a thread started per request and two hand-offs per middleware, most of a short
# request's CPU. The hooks below do no I/O, so they run in the event loop as they are.


class _InlineHooks:
    """process_request and process_response called directly in async mode: they do no I/O."""

    async def __acall__(self, request):
        response = self.process_request(request) if hasattr(self, "process_request") else None
        response = response or await self.get_response(request)
        if hasattr(self, "process_response"):
            response = self.process_response(request, response)
        return response


class SecurityMiddleware(_InlineHooks, security.SecurityMiddleware):
    pass


class CommonMiddleware(_InlineHooks, common.CommonMiddleware):
    """Its host check (ALLOWED_HOSTS) and Content-Length for every path, API included."""


class XFrameOptionsMiddleware(_InlineHooks, clickjacking.XFrameOptionsMiddleware):
    pass


# The browser's middleware (cookie session, the logged-in user, flash messages, the CSRF check) serves
# the admin and the other pages. The API paths (both wire protocols) never use any of it: they
# authenticate with bearer credentials, never with cookies, and their views are CSRF-exempt. There
# these middlewares step aside; elsewhere they run as Django wrote them (their hooks may read or save
# the session, so in a thread).


class _BrowserOnly:
    def __call__(self, request):
        if is_api_path(request.path):
            return self.get_response(request)  # a coroutine in async mode, awaited by the caller
        return super().__call__(request)


class SessionMiddleware(_BrowserOnly, sessions_middleware.SessionMiddleware):
    pass


class AuthenticationMiddleware(_BrowserOnly, auth_middleware.AuthenticationMiddleware):
    pass


class MessageMiddleware(_BrowserOnly, messages_middleware.MessageMiddleware):
    pass


class CsrfViewMiddleware(_BrowserOnly, csrf.CsrfViewMiddleware):
    def __init__(self, get_response):
        super().__init__(get_response)
        if self.async_mode:
            # Django adapts process_view to the handler's mode once: an async one costs no thread hop.
            self.process_view = self._aprocess_view

    async def _aprocess_view(self, request, callback, callback_args, callback_kwargs):
        if is_api_path(request.path):
            return None
        return await sync_to_async(super().process_view, thread_sensitive=True)(
            request, callback, callback_args, callback_kwargs
        )
