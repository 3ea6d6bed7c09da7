"""botportal.asgi.RequestThreadsReused: a request's sync code keeps one thread to itself, and the
threads are kept for the next requests instead of two being started per request."""

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import sync_to_async

from botportal.asgi import RequestThreadsReused


def _run(coroutine):
    """asyncio.run on a thread of its own: the suite's browser tests keep Playwright's event loop running
    on the main thread for the whole session, and asyncio.run refuses to start beside a running loop."""
    with ThreadPoolExecutor(1) as executor:
        return executor.submit(asyncio.run, coroutine).result()


def _app(seen: list, started: asyncio.Event | None = None, release: asyncio.Event | None = None):
    async def app(scope, receive, send):
        first = await sync_to_async(threading.get_ident)()
        if started is not None:
            started.set()
            await release.wait()
        second = await sync_to_async(threading.get_ident)()
        seen.append((first, second))

    return app


def test_a_request_keeps_its_thread_and_the_next_one_reuses_it():
    seen = []
    wrapped = RequestThreadsReused(_app(seen))

    async def two_in_turn():
        for _ in range(2):
            await wrapped({"type": "http"}, None, None)

    _run(two_in_turn())
    (a1, a2), (b1, b2) = seen
    assert a1 == a2 == b1 == b2 != threading.get_ident()
    assert len(wrapped.idle) == 1


def test_requests_at_once_each_have_a_thread_of_their_own():
    seen = []

    async def both():
        started, release = asyncio.Event(), asyncio.Event()
        wrapped = RequestThreadsReused(_app(seen, started, release))
        first = asyncio.create_task(wrapped({"type": "http"}, None, None))
        await started.wait()
        second = asyncio.create_task(wrapped({"type": "http"}, None, None))
        await asyncio.sleep(0.05)
        release.set()
        await asyncio.gather(first, second)
        return wrapped

    wrapped = _run(both())
    (a1, a2), (b1, b2) = seen
    assert a1 == a2 and b1 == b2 and a1 != b1
    assert len(wrapped.idle) == 2


def test_no_more_than_kept_idle_threads_stay(monkeypatch):
    monkeypatch.setattr(RequestThreadsReused, "KEPT", 1)
    seen = []

    async def three_at_once():
        release = asyncio.Event()

        async def app(scope, receive, send):
            seen.append(await sync_to_async(threading.get_ident)())
            await release.wait()

        wrapped = RequestThreadsReused(app)
        tasks = [asyncio.create_task(wrapped({"type": "http"}, None, None)) for _ in range(3)]
        while len(seen) < 3:
            await asyncio.sleep(0.01)
        release.set()
        await asyncio.gather(*tasks)
        return wrapped

    wrapped = _run(three_at_once())
    assert len(set(seen)) == 3 and len(wrapped.idle) == 1
