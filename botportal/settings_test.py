"""Settings of the test suite: botportal's own, in development mode as `make run` uses them.

DEBUG is on while the settings are computed (a secret generated once under var/ when SECRET_KEY is
unset, no HTTPS redirect); pytest-django still serves each test with DEBUG off, as production does.
Processes the tests start (a Celery worker, probes) inherit the variable and these settings.
Production's own settings are checked in subprocesses (botportal/tests/test_deploy_settings.py).
"""

import os

os.environ["DEBUG"] = "true"

from botportal.settings import *  # noqa: E402, F403
