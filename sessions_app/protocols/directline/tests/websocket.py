"""A WebSocket client of botportal's ASGI application, for the stream's tests and the authorization matrix
(channels.testing's WebsocketCommunicator needs daphne, which botportal doesn't)."""

import asyncio
import threading
from urllib.parse import urlsplit

from asgiref.testing import ApplicationCommunicator


class WebsocketCommunicator(ApplicationCommunicator):
    def __init__(self, app, path, headers=None):
        path, _, query = path.partition("?")
        super().__init__(app, {"type": "websocket", "path": path, "query_string": query.encode(),
                               "headers": headers or [], "subprotocols": []})

    async def connect(self, timeout=5):
        """(accepted, the close code if it was refused)."""
        await self.send_input({"type": "websocket.connect"})
        message = await self.receive_output(timeout)
        return message["type"] == "websocket.accept", message.get("code")

    async def receive_from(self, timeout=5):
        message = await self.receive_output(timeout)
        assert message["type"] == "websocket.send", message
        return message["text"]

    async def send_to(self, text_data):
        await self.send_input({"type": "websocket.receive", "text": text_data})

    async def disconnect(self, code=1000, timeout=5):
        await self.send_input({"type": "websocket.disconnect", "code": code})
        await self.wait(timeout)


def stream_path(stream_url: str) -> str:
    """The path and query of a streamUrl, as the ASGI scope has them."""
    parts = urlsplit(stream_url)
    return f"{parts.path}?{parts.query}"


def run_on_own_loop(coroutine_function) -> None:
    """Run `coroutine_function()` to its end on an event loop of its own thread: async_to_sync refuses
    to run where another loop is running (Playwright's sync API keeps one in the test thread once a
    browser test of the session has started it)."""
    failure = []

    def target():
        try:
            loop = asyncio.new_event_loop()
            try:
                loop.run_until_complete(coroutine_function())
            finally:
                # What the test left running is cancelled, and given a moment; a task that does not end
                # then is left behind rather than holding the test for good (asyncio.run would wait).
                pending = asyncio.all_tasks(loop)
                for task in pending:
                    task.cancel()
                if pending:
                    loop.run_until_complete(asyncio.wait(pending, timeout=2))
                loop.close()
        except BaseException as error:  # noqa: BLE001 (raised again in the test's thread)
            failure.append(error)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
