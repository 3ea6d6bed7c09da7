"""gunicorn's settings for botportal, read from the directory gunicorn starts in.

    gunicorn botportal.asgi:application        # production: uvicorn's worker, WEB_CONCURRENCY processes

A turn that waits on a language model or a webhook waits in an event loop, not in a worker, so a few
processes (one per core by default) hold hundreds of conversations at once. Anything here can still be
overridden on the command line or in GUNICORN_CMD_ARGS (`--bind`, `--workers`, ...).
"""

import os
from pathlib import Path

import environ

# The same optional `.env` as botportal/settings.py, so that WEB_CONCURRENCY set there counts here too.
environ.Env.read_env(Path(__file__).resolve().parent / ".env", overwrite=False)

wsgi_app = "botportal.asgi:application"
worker_class = "uvicorn_worker.UvicornWorker"

# An event loop per core; more processes only add database pools and memory. The value is written
# back to the environment because each worker sizes its database pool from it (botportal/settings.py).
workers = int(os.environ.setdefault("WEB_CONCURRENCY", str(os.cpu_count() or 1)))

# A worker whose event loop has not checked in for this long is stuck (a blocking call in async
# code) and is replaced. Streams themselves may run longer: this is not a per-request limit.
timeout = 30
# SIGTERM: stop accepting, let requests in flight (a streamed answer lasts up to the model's own
# timeout) finish for this long, then stop the worker.
graceful_timeout = 30
# Idle keep-alive connections are closed after this many seconds: longer than a proxy or load balancer
# keeps its own idle connections to the server (nginx 60 s, most cloud balancers 60 s), or the proxy
# may send a request on a connection the server is closing that moment and answer the client 502.
# An idle connection costs the event loop next to nothing.
keepalive = 75

# botportal reads X-Forwarded-For and X-Forwarded-Proto itself, as far as it is told to trust them
# (BOTPORTAL_TRUSTED_PROXIES, SECURE_PROXY_SSL_HEADER); the server must not rewrite the client's
# address or scheme from them first.
forwarded_allow_ips = ""


def post_worker_init(worker):
    """A web process classifies its visitors' messages: numpy (the classifier's) is loaded as the worker
    starts, not inside the first turn it serves (about 0.13 s of CPU on the 2-core development machine)."""
    import bots.engine.classifier  # noqa: F401
