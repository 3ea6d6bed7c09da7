"""Database work from async code: short phases in worker threads, the connection given back at each end.

Under a sync server (WSGI, the test client) an async view runs in an event loop of the request's own
thread, and its phases run on that thread, with the request's connection, as the sync code would.
Under ASGI an async view never touches the ORM itself: each database phase (a short transaction, or a few reads)
runs through `db_phase` in a thread of the event loop's pool, not through the one thread every
thread-sensitive call of a process shares, so that phases of different requests run side by side. When a
phase ends, its connection goes back: to Django's connection pool when one is configured (closing a
pooled connection returns it), otherwise it is kept by the thread for the next phase only within
CONN_MAX_AGE, as a request's would be. A phase that leaves a transaction open is a bug and raises.
"""

import asyncio
import functools
import queue
import threading
from collections.abc import Iterator
from concurrent.futures import Executor, Future
from contextvars import ContextVar

from asgiref.sync import AsyncToSync, sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.db import connections

# Forces every phase onto the calling sync thread (and its connection), as under a sync server.
THREAD_SENSITIVE = False

# Set by an async view for its request: whether the server is a sync one (WSGI, the test client).
_sync_server: ContextVar[bool | None] = ContextVar("botportal_sync_server", default=None)


def serving(request) -> None:
    """Record, for the phases of this request's coroutine, whether a sync server serves it. Under ASGI,
    a sync-only middleware makes Django run the view for a thread of the request's own; phases must not
    go there, where the connection would stay with that thread until the request ends."""
    _sync_server.set(not isinstance(request, ASGIRequest))


def _under_sync_caller() -> bool:
    """Whether this coroutine runs for a sync thread blocked in async_to_sync (a WSGI worker, the test
    client, a management command): its phases then belong on that thread, with its connection and its
    transaction, as the sync code around them expects."""
    return THREAD_SENSITIVE or loop_ends_with_request()


def loop_ends_with_request() -> bool:
    """Whether the event loop running this coroutine is a sync caller's, made for this call alone and
    closed with it (a WSGI worker's, the test client's): work meant to outlive the request must then
    be done within it."""
    sync_server = _sync_server.get()
    if sync_server is not None:
        return sync_server
    return getattr(AsyncToSync.executors, "current", None) is not None


def _give_back() -> None:
    for connection in connections.all(initialized_only=True):
        if connection.in_atomic_block:
            raise RuntimeError("a database phase ended inside a transaction")
        if getattr(connection, "pool", None) is not None:
            connection.close()
        else:
            connection.close_if_unusable_or_obsolete()


def db_phase(func, *, abandoned=None, finish_when_cancelled=True):
    """`func` as a coroutine function whose every call is one database phase in a worker thread.

    A phase, once started, runs to its end: a thread cannot be stopped, so a caller cancelled meanwhile
    (its client went away) waits for it before the cancellation goes on. Until then the request is
    still whole for the phase (Django closes the body of a request it cancels, which the phase may not
    have read yet), and the caller's own clean-up sees what the phase did. `abandoned(result)`, if
    given, is called (on the event loop) with what a phase returned to a caller that is gone: a turn
    it claimed is given up there, not left held until TURN_TIMEOUT. With `finish_when_cancelled` False
    the cancellation goes on at once, the phase finishing on its own: for phases that only read and
    belong to no request (a WebSocket's), whose caller has nothing to clean up.
    """

    @functools.wraps(func)
    def phase(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        finally:
            _give_back()

    @functools.wraps(func)
    def phase_on_caller(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        finally:
            # The caller's connection: back to the pool between phases, unless the caller holds a
            # transaction on it (a sync caller's own, a test's).
            for connection in connections.all(initialized_only=True):
                if getattr(connection, "pool", None) is not None and not connection.in_atomic_block:
                    connection.close()

    @functools.wraps(func)
    async def run(*args, **kwargs):
        if _under_sync_caller():
            call = sync_to_async(phase_on_caller, thread_sensitive=True)(*args, **kwargs)
        else:
            call = sync_to_async(phase, thread_sensitive=False)(*args, **kwargs)
        if not finish_when_cancelled:
            return await call
        task = asyncio.ensure_future(call)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if not task.done():
                await asyncio.wait([task])
            if abandoned is not None and not task.cancelled() and task.exception() is None:
                abandoned(task.result())
            raise

    return run


def under_sync_server() -> bool:
    """Whether the request this coroutine serves came through a sync server (WSGI, the test client)."""
    return bool(_sync_server.get())


class _CallerThreadExecutor(Executor):
    """Runs what is submitted on the thread iterating `iterate_in_caller_thread`: its phases, as a
    thread-sensitive call of the request there would (its connection; a test's transaction)."""

    def __init__(self, work: queue.SimpleQueue):
        self.work = work

    def submit(self, fn, /, *args, **kwargs):
        future = Future()
        self.work.put((_CALL, (future, fn, args, kwargs)))
        return future


_CALL, _ITEM, _END = "call", "item", "end"


def iterate_in_caller_thread(make_items) -> Iterator:
    """The items of the async iterator `make_items()`, for a sync server to send as they come.

    A sync server iterates a streamed response itself, on its worker thread; Django would otherwise
    collect an async iterator whole first (StreamingHttpResponse's fallback). Here the iterator runs on
    an event loop of its own, in a thread started for the stream, for its whole length (an upstream's
    connection and the turn's tasks belong to one loop); the worker thread waits on a queue, sending each
    item as it arrives and running the stream's database phases meanwhile, as async_to_sync would. No
    phase, transaction or lock is held while it waits. Closing the iterator early (the client left)
    cancels the stream, whose own clean-up (a turn's release) still runs its phases here.
    """
    work: queue.SimpleQueue = queue.SimpleQueue()
    executor = _CallerThreadExecutor(work)

    async def produce():
        _sync_server.set(True)
        AsyncToSync.executors.current = executor  # thread-sensitive calls come back to this thread
        try:
            async for item in make_items():
                work.put((_ITEM, item))
        except BaseException as error:  # noqa: BLE001 (handed to this thread, which raises it)
            work.put((_END, error))
        else:
            work.put((_END, None))

    loop = asyncio.new_event_loop()
    task = loop.create_task(produce())  # in this thread's context: the request's
    thread = threading.Thread(target=loop.run_until_complete, args=(task,), daemon=True)
    thread.start()
    ended = False
    try:
        while True:
            kind, value = work.get()
            if kind == _CALL:
                _run(*value)
            elif kind == _ITEM:
                yield value
            else:
                ended = True
                if value is not None and not isinstance(value, asyncio.CancelledError):
                    raise value
                return
    finally:
        if not ended:
            # Left early: cancel the stream, and serve what its clean-up still needs of this thread.
            loop.call_soon_threadsafe(task.cancel)
            while (message := work.get())[0] != _END:
                if message[0] == _CALL:
                    _run(*message[1])
        thread.join()
        loop.close()


def _run(future: Future, fn, args, kwargs) -> None:
    if future.set_running_or_notify_cancel():
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as error:  # noqa: BLE001 (the submitter's to handle)
            future.set_exception(error)
