"""Settings of the test suite: botportal's own, in development mode as `make run` uses them.

DEBUG is on while the settings are computed (a secret generated once under var/ when SECRET_KEY is
unset, no HTTPS redirect); pytest-django still serves each test with DEBUG off, as production does.
Processes the tests start (a Celery worker, probes) inherit the variable and these settings.
Production's own settings are checked in subprocesses (botportal/tests/test_deploy_settings.py).
"""

import os

os.environ["DEBUG"] = "true"

from botportal.settings import *  # noqa: E402, F403

# The suite's sockets use no channel layer, whatever REDIS_URL says (a process's own sockets need none):
# each test runs its own event loops, and a Redis layer's receive left pending when such a loop closes
# does not end (the loop's close then waits on it for good). The tests of the Redis layer name it
# themselves (the `redis_layer` fixture), and the live servers of tests/compat run with production's
# settings, Redis included.
CHANNEL_LAYERS = {}
