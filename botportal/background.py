"""Work that a request starts and the process finishes after the answer has gone (a Direct Line turn,
whose reply reaches the client over its stream, not in the answer to its post).

Held here so that it is not collected half-way, and so that a graceful shutdown (the ASGI lifespan's,
botportal/asgi.py) waits for it: a turn cut off then is released like any turn whose client left,
its message kept, waiting for a reply."""

import asyncio
import logging

logger = logging.getLogger(__name__)

_running: set[asyncio.Task] = set()


def background_start(coroutine) -> asyncio.Task:
    task = asyncio.ensure_future(coroutine)
    _running.add(task)
    task.add_done_callback(_finished)
    return task


def _finished(task: asyncio.Task) -> None:
    _running.discard(task)
    if not task.cancelled() and task.exception() is not None:
        logger.error("background work failed", exc_info=task.exception())


async def background_drain(timeout: float) -> int:
    """Wait up to `timeout` seconds for the work of this event loop, then cancel what is left; how many
    were cancelled."""
    loop = asyncio.get_running_loop()
    mine = [task for task in _running if task.get_loop() is loop]
    if not mine:
        return 0
    _, pending = await asyncio.wait(mine, timeout=timeout)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending)
    return len(pending)
