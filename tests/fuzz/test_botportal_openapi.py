"""Schemathesis against botportal's own OpenAPI document (/api/schema/), every operation, in process."""

import schemathesis

from botportal.wsgi import application
from tests.fuzz.conftest import CHECKS, FUZZ_SETTINGS, aim

schema = schemathesis.openapi.from_wsgi("/api/schema/", application)

# The routes a session token is made for; the fuzzer presents one on half of their examples.
TOKEN_PATHS = ("/complete", "/send", "/receive", "/message/list", "/session/revoke")


def credential(case, target) -> dict:
    if case.path.endswith("/session/refresh"):
        return {"Authorization": f"Bearer {target.session_token()}"}
    conversation = (case.path_parameters or {}).get("conversation_id")
    if case.path.endswith(TOKEN_PATHS) and conversation == target.ids["conversation"] and len(str(case.body)) % 2:
        return {"Authorization": f"Bearer {target.session_token()}"}
    if case.path.endswith("/session/create") and "{bot_id}" in case.path and len(str(case.body)) % 2:
        return {}  # a public bot: anyone may open a session
    return {"Authorization": f"Bearer {target.secret}"}


@schema.parametrize()
@FUZZ_SETTINGS
def test_botportal_api_conforms_to_its_document(case, target):
    if case.path_parameters:
        aim(case.path, case.path_parameters, target.ids)
    case.call_and_validate(headers=credential(case, target), checks=CHECKS)
