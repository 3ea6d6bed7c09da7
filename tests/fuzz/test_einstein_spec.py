"""Schemathesis against the Einstein Bots Runtime v5.0.0 spec itself, every operation, in process.

The spec ships with the adapter (`sessions_app/protocols/einstein/spec/`): a missing file fails.
"""

import pytest
import schemathesis

from botportal.wsgi import application
from bots.models import Bot
from sessions_app.protocols.einstein import SPEC_PATH
from sessions_app.protocols.einstein.runtime import runtime_session_begin
from tests.fuzz.conftest import CHECKS, FUZZ_SETTINGS, aim

if not SPEC_PATH.is_file():
    pytest.fail(f"The Einstein Bots spec is missing: {SPEC_PATH}", pytrace=False)

schema = schemathesis.openapi.from_path(SPEC_PATH)


@pytest.fixture
def runtime_target(target):
    """The target owner with one live runtime session, the id the fuzzer aims at."""
    # Opened with the service: a test client request would reconnect the signal handler that closes connections.
    bot = Bot.objects.get(pk=target.ids["bots"])
    outcome = runtime_session_begin(bot=bot, external_session_key="fuzz-session")
    target.ids["sessions"] = str(outcome.conversation.pk)
    return target


@schema.parametrize()
@FUZZ_SETTINGS
def test_einstein_routes_conform_to_the_runtime_spec(case, runtime_target):
    if case.path_parameters:
        aim(case.path, case.path_parameters, runtime_target.ids)
    headers = {"Authorization": f"Bearer {runtime_target.secret}"}
    # Most examples carry the owner's org id so that they get past the org check; the rest keep the generated one.
    generated = (case.headers or {}).get("X-Org-Id")
    if generated is None or len(str(generated)) % 3:
        headers["X-Org-Id"] = runtime_target.org_id
    case.call_and_validate(app=application, base_url="http://localhost", headers=headers, checks=CHECKS)
