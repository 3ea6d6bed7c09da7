"""Async views around DRF views, for the routes whose answer can wait on the network.

DRF views are synchronous. `async_api_view(ViewClass)` serves one as an async view: the DRF view runs as
it always has (authentication, throttles, parsing, its checks, its error shapes, its OpenAPI schema,
which drf-spectacular still finds through `.cls`) as one database phase in a worker thread
(`botportal.asyncdb`). A view that must wait (on a language model, a webhook, another turn) returns a
`PendingResponse`; the async view then awaits its continuation on the event loop, with no thread, no
transaction and no connection held, and answers with what it returns.
"""

from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt

from botportal import asyncdb
from botportal.asyncdb import db_phase


class PendingResponse(HttpResponse):
    """What the sync half of a view returns when the answer must be awaited; never sent itself.

    `continuation` is a coroutine function returning the response; the headers DRF set on this one
    (Vary, Allow...) are carried over to it.
    """

    def __init__(self, continuation, *, abandon=None):
        super().__init__(status=202)
        self.continuation = continuation
        # Called instead of the continuation when the request is cancelled first (its client left):
        # gives up what the sync half took for it (a claimed turn).
        self.abandon = abandon


def _abandoned(response) -> None:
    if isinstance(response, PendingResponse) and response.abandon is not None:
        response.abandon()


def _rendered(response):
    """The response rendered in the phase's thread, as a plain HttpResponse: Django would otherwise
    render a DRF Response on the one thread that thread-sensitive calls share."""
    if isinstance(response, PendingResponse) or not callable(getattr(response, "render", None)):
        return response
    response.render()
    plain = HttpResponse(response.content, status=response.status_code)
    for name, value in response.items():
        plain[name] = value
    return plain


def async_api_view(view_class, **initkwargs):
    sync_view = view_class.as_view(**initkwargs)

    def first_phase(request, *args, **kwargs):
        return _rendered(sync_view(request, *args, **kwargs))

    first = db_phase(first_phase, abandoned=_abandoned)

    async def view(request, *args, **kwargs):
        asyncdb.serving(request)
        response = await first(request, *args, **kwargs)
        if not isinstance(response, PendingResponse):
            return response
        final = await response.continuation()
        for name, value in response.items():
            if name.lower() not in ("content-type", "content-length") and not final.has_header(name):
                final[name] = value
        return final

    # What drf-spectacular and DRF's own tooling look for on a view function.
    view.cls = view_class
    view.initkwargs = initkwargs
    view.view_class = view_class
    return csrf_exempt(view)
