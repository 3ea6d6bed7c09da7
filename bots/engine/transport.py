"""The one asynchronous HTTP client of the engine (httpx): the language-model provider and webhook abilities.

Both upstreams get the same guarantees: redirects are never followed (a 3xx is an error, so a key or a
payload never goes to a host the operator or the bot definition did not name), proxies from the
environment are ignored, and one total deadline (a loop-clock instant) bounds everything, connecting and
the response headers included, as well as every read of the body.
"""

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator

import httpx

# One pooled client per event loop for the provider (keep-alive connections are tied to their loop).
_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient]" = weakref.WeakKeyDictionary()


class TransportError(Exception):
    pass


class DeadlineExceeded(TransportError):
    pass


class TooLarge(TransportError):
    pass


def deadline_in(seconds: float) -> float:
    """The loop-clock instant `seconds` from now: the one deadline of a call."""
    return asyncio.get_running_loop().time() + seconds


def _client_options(timeout: float) -> dict:
    return {"follow_redirects": False, "trust_env": False, "timeout": httpx.Timeout(timeout)}


def pooled_client(timeout: float) -> httpx.AsyncClient:
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None or client.is_closed:
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=64)
        client = _clients[loop] = httpx.AsyncClient(limits=limits, **_client_options(timeout))
    return client


@contextlib.asynccontextmanager
async def stream(
    method: str,
    url: str,
    *,
    deadline: float,
    content: bytes,
    headers: dict,
    extensions: dict | None = None,
    pooled: bool = True,
) -> AsyncIterator[httpx.Response]:
    """The response, its headers read, within `deadline`; its body is left to `read_until`/`lines_until`.

    `pooled` False uses a client of its own, closed afterwards: a connection pinned to a checked address
    must never be reused for another host name.
    """
    remaining = max(deadline - asyncio.get_running_loop().time(), 0.001)
    own = None if pooled else httpx.AsyncClient(**_client_options(remaining))
    client = own or pooled_client(remaining)
    request = client.build_request(method, url, content=content, headers=headers, extensions=extensions)
    try:
        try:
            async with asyncio.timeout_at(deadline):
                response = await client.send(request, stream=True)
        except TimeoutError as error:
            raise DeadlineExceeded("no answer before the deadline") from error
        except (httpx.HTTPError, OSError) as error:
            raise TransportError(f"the request failed: {error.__class__.__name__}") from error
        try:
            if response.is_redirect:
                raise TransportError(f"the upstream answered a redirect (HTTP {response.status_code}), not followed")
            yield response
        finally:
            await response.aclose()
    finally:
        if own is not None:
            await own.aclose()


async def read_until(response: httpx.Response, *, deadline: float, max_bytes: int) -> bytes:
    """The whole (decoded) body, refused once larger than `max_bytes` or not complete by `deadline`."""
    data = b""
    chunks = response.aiter_bytes()
    while True:
        chunk = await _next(chunks, deadline)
        if chunk is None:
            return data
        data += chunk
        if len(data) > max_bytes:
            raise TooLarge("the reply is larger than allowed")


async def lines_until(response: httpx.Response, *, deadline: float) -> AsyncIterator[str]:
    """The body's lines as they arrive; each wait for more of the body is bounded by `deadline`.

    Split here from the (decoded) chunks as they come rather than through httpx's aiter_lines: one
    read, one deadline and one pass through httpx's iterators per chunk, not per line (an answer
    streamed as server-sent events is two lines per token, and a server that falls behind reads
    several tokens at once). A line ends at CR, LF or CRLF, as in server-sent events; UTF-8 never
    has those bytes inside a character, so a line is decoded once whole.
    """
    chunks = response.aiter_bytes()
    pending = b""
    while True:
        chunk = await _next(chunks, deadline)
        if chunk is None:
            if pending:
                yield pending.decode("utf-8", "replace")
            return
        if not chunk:
            continue
        lines = (pending + chunk).splitlines(keepends=True)
        pending = lines.pop() if not lines[-1].endswith((b"\n", b"\r")) else b""
        for line in lines:
            yield line.rstrip(b"\r\n").decode("utf-8", "replace")


async def _next(iterator, deadline: float):
    try:
        async with asyncio.timeout_at(deadline):
            return await anext(iterator)
    except StopAsyncIteration:
        return None
    except TimeoutError as error:
        raise DeadlineExceeded("the answer did not end before the deadline") from error
    except (httpx.HTTPError, OSError) as error:
        raise TransportError(f"the answer broke off: {error.__class__.__name__}") from error
