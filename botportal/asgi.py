import asyncio
import os
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "botportal.settings")
django_application = get_asgi_application()

from django.conf import settings  # noqa: E402 (after the settings module is chosen and apps are loaded)

from botportal.background import background_drain  # noqa: E402
from botportal.middleware import BODY_CUT_OFF, declared_body_length  # noqa: E402


class OversizedBodyWithheld:
    """Keep a body over BOTPORTAL_MAX_BODY_BYTES from Django's ASGI handler.

    That handler reads a request's whole body (into a temporary file, however large) before any
    middleware runs. Here a body declared over the limit reaches Django empty, and one that declares no
    length (chunked) is cut off as soon as the bytes received pass the limit, the request marked with
    BODY_CUT_OFF. RequestBodyLimitMiddleware (or, off the API, Django's DATA_UPLOAD_MAX_MEMORY_SIZE, the
    same limit) then refuses it without more of it having been read or stored; the server discards what
    the client still sends, and the connection stays usable.
    """

    def __init__(self, app, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = self._declared(scope)
        if declared is not None and declared <= self.limit:
            return await self.app(scope, receive, send)  # the server delivers exactly the declared length
        scope = dict(scope)  # marked below, for this application only
        # "withheld": Django's read of the body is answered with an empty one, not a byte of it read.
        state, received = ("withheld" if declared is not None else "reading"), 0

        async def receive_within_limit():
            nonlocal state, received
            if state == "withheld":
                state = "refused"
                return {"type": "http.request", "body": b"", "more_body": False}
            if state == "refused":
                # After the body, Django only listens for the client going away. The refusal is answered
                # at once (and this listener then cancelled); reading on would take in what it refuses.
                await asyncio.Event().wait()
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    scope[BODY_CUT_OFF] = received
                    state = "refused"
                    return {"type": "http.request", "body": b"", "more_body": False}
            return message

        return await self.app(scope, receive_within_limit, send)

    @staticmethod
    def _declared(scope) -> int | None:
        for name, value in scope["headers"]:
            if name == b"content-length":
                return declared_body_length(value)
        return None


class RequestThreadsReused:
    """Django's ASGI handler runs each request's sync code (sync middleware hooks, its signal receivers,
    a sync view) on a thread of the request's own, and asgiref starts that thread, then one more to
    join it, for every request: two thread starts a request, a tenth of a short request's CPU. Here a
    request's thread is borrowed for the request's whole length (so the request still has it to itself,
    as Django intends) from threads kept for the next requests; Django's own context then sees this
    one and adds none.

    Up to KEPT idle threads are kept: under the pool (PostgreSQL) a thread keeps no connection between
    requests (Django closes it at each request's end, giving it back); without the pool it may keep one
    for CONN_MAX_AGE, as a WSGI worker's thread does.
    """

    KEPT = 32

    def __init__(self, app):
        self.app = app
        self.idle: list[ThreadPoolExecutor] = []

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        executor = self.idle.pop() if self.idle else ThreadPoolExecutor(1, thread_name_prefix="request")
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.app(scope, receive, send)
        finally:
            # A task of the request still running on the thread would be a bug in the handler: Django
            # waits for its tasks before returning. The thread is handed on only once it is idle.
            if len(self.idle) < self.KEPT:
                self.idle.append(executor)
            else:
                executor.shutdown(wait=False)


class BackgroundDrainedAtShutdown:
    """The ASGI lifespan: at a graceful shutdown, after the server has let its requests finish, the work
    they left running (botportal.background) gets `drain_seconds` more, so that a turn in progress
    stores its reply rather than being cut off."""

    def __init__(self, drain_seconds: float):
        self.drain_seconds = drain_seconds

    async def __call__(self, scope, receive, send):
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await background_drain(self.drain_seconds)
                await send({"type": "lifespan.shutdown.complete"})
                return


from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import re_path  # noqa: E402

from botportal.api.protocols import websocket_urlpatterns  # noqa: E402

# A refused handshake's close code (the server answers the handshake 403).
WEBSOCKET_NOT_FOUND = 4404


async def websocket_not_found(scope, receive, send):
    """A WebSocket on any other path is refused: without it the router raises, and every such probe
    would be an error in the logs and a 500."""
    await receive()  # websocket.connect
    await send({"type": "websocket.close", "code": WEBSOCKET_NOT_FOUND})


# HTTP to Django; WebSockets to the consumers of the protocols that have any (Direct Line's stream),
# which check the origin themselves: a Node client sends none, and a browser's must be one the bot
# (or the token) allows.
application = ProtocolTypeRouter(
    {
        "http": RequestThreadsReused(OversizedBodyWithheld(django_application, settings.BOTPORTAL["MAX_BODY_BYTES"])),
        "websocket": URLRouter([*websocket_urlpatterns(), re_path(r"", websocket_not_found)]),
        "lifespan": BackgroundDrainedAtShutdown(settings.BOTPORTAL["BACKGROUND_DRAIN_SECONDS"]),
    }
)
