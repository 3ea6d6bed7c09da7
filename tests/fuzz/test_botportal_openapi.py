"""Schemathesis against botportal's own OpenAPI document (/api/schema/), every operation, in process."""

import pytest
import schemathesis
from django.core.cache import cache
from rest_framework.throttling import SimpleRateThrottle

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


@pytest.mark.parametrize(
    ("path", "method", "body"),
    [("/api/v1/bot/list", "GET", None), ("/api/v1/bot/create", "POST", {"name": "Over the limit"})],
)
def test_throttled_and_oversized_answers_conform_to_the_document(target, monkeypatch, settings, path, method, body):
    # The fuzz runs unthrottled; the 429 and 413 every route can give are checked against the document here.
    monkeypatch.setattr(
        SimpleRateThrottle, "THROTTLE_RATES", {**SimpleRateThrottle.THROTTLE_RATES, "api_secret": "1/hour"}
    )
    operation = schema[path][method]
    headers = {"Authorization": f"Bearer {target.secret}"}
    case = operation.Case(body=body) if body is not None else operation.Case()
    assert case.call(headers=headers).status_code == 200
    throttled = case.call(headers=headers)
    assert throttled.status_code == 429
    retry_after = {name.lower(): value for name, value in throttled.headers.items()}["retry-after"]
    assert int(retry_after[0] if isinstance(retry_after, list) else retry_after) >= 1
    case.validate_response(throttled, checks=CHECKS)
    if body is not None:
        monkeypatch.setattr(
            SimpleRateThrottle, "THROTTLE_RATES", {**SimpleRateThrottle.THROTTLE_RATES, "api_secret": "100/hour"}
        )
        cache.clear()
        oversized = operation.Case(body={"name": "x" * (settings.BOTPORTAL["MAX_BODY_BYTES"] + 1)}).call(
            headers=headers
        )
        assert oversized.status_code == 413
        case.validate_response(oversized, checks=CHECKS)
