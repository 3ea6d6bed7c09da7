"""What the tests that start botportal's real servers (gunicorn, in a process of its own) share: a free
port, and the wait until the server answers."""

import http.client
import socket
import time
from collections.abc import Callable


def free_port() -> int:
    """A port of 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_healthy(process, port: int, failure_output: Callable[[], str], timeout: float = 60) -> None:
    """Return once GET /api/health on `port` answers 200 (any other status fails at once). While nothing
    answers, fail with `failure_output()` (what the server wrote) if `process` has ended, and once `timeout`
    seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            try:
                connection.request("GET", "/api/health")
                assert connection.getresponse().status == 200
            finally:
                connection.close()
            return
        except OSError:
            assert process.poll() is None, failure_output()
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
