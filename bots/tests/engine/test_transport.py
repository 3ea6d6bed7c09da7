"""bots/engine/transport.py's line splitting: lines as the body's chunks bring them, however they are cut."""

import asyncio
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from bots.engine import transport


def _run(coroutine):
    """asyncio.run on a thread of its own: the suite's browser tests keep Playwright's event loop running
    on the main thread for the whole session, and asyncio.run refuses to start beside a running loop."""
    with ThreadPoolExecutor(1) as executor:
        return executor.submit(asyncio.run, coroutine).result()


def _lines(chunks: list[bytes], *, gap: float = 0.0) -> list[str]:
    async def body():
        for chunk in chunks:
            if gap:
                await asyncio.sleep(gap)
            yield chunk

    async def collect():
        response = httpx.Response(200, content=body())
        deadline = transport.deadline_in(5)
        return [line async for line in transport.lines_until(response, deadline=deadline)]

    return _run(collect())


def test_lines_cut_anywhere_come_out_whole():
    text = 'data: {"t": "é"}\n\ndata: [DONE]\n'.encode()
    expected = ['data: {"t": "é"}', "", "data: [DONE]"]
    for cut in range(1, len(text)):  # every place a chunk may end, inside the two-byte é too
        assert _lines([text[:cut], text[cut:]]) == expected, cut


def test_cr_lf_and_crlf_end_lines_and_a_last_line_without_end_is_kept():
    assert _lines([b"a\r\nb\rc\n", b"", b"d"]) == ["a", "b", "c", "d"]


def test_each_wait_is_bounded_by_the_deadline():
    async def slow():
        yield b"data: 1\n"
        await asyncio.sleep(10)
        yield b"data: 2\n"

    async def collect():
        response = httpx.Response(200, content=slow())
        seen = []
        with pytest.raises(transport.DeadlineExceeded):
            async for line in transport.lines_until(response, deadline=transport.deadline_in(0.2)):
                seen.append(line)
        return seen

    assert _run(collect()) == ["data: 1"]
