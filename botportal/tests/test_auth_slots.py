"""A good credential's failed-authentication slot is given back however the request ends, in the same
round trip as the request's rate throttles where there are any; a bad one's stays counted."""

import time
import uuid

import pytest
from django.core.cache import caches
from rest_framework.test import APIClient

from botportal.api.throttles import FailedAuthenticationThrottle, SlotsToGiveBack
from sessions_app.protocols.directline.services import directline_secret_create
from sessions_app.tests.apis.helpers import open_session, token_client

pytestmark = pytest.mark.django_db


def _failures(ip: str) -> int:
    """This address's failed-authentication count (this window's and the previous one's)."""
    window = int(time.time() // 60)
    cache = caches["default"]
    return sum(cache.get(f"throttle_failed_auth_{ip}:{w}", 0) for w in (window - 1, window))


def _ip() -> str:
    return f"198.51.100.{uuid.uuid4().int % 250 + 1}"


@pytest.fixture
def ip():
    address = _ip()
    for window in (int(time.time() // 60) - 1, int(time.time() // 60)):
        caches["default"].delete(f"throttle_failed_auth_{address}:{window}")
    return address


def test_a_good_token_gives_its_slot_back_and_bad_ones_stay_counted(public_bot, ip):
    opened = open_session(APIClient(), public_bot)
    path = f"/api/v1/conversation/{opened['conversationId']}/message/list"
    for _ in range(3):
        assert token_client(opened["token"]).get(path, REMOTE_ADDR=ip).status_code == 200
    assert _failures(ip) == 0
    for _ in range(2):
        assert token_client("not-a-token").get(path, REMOTE_ADDR=ip).status_code == 401
    assert _failures(ip) == 2


def test_a_good_credential_refused_by_permissions_gives_its_slot_back(public_bot, ip):
    opened = open_session(APIClient(), public_bot)
    refused = token_client(opened["token"]).get("/api/v1/bot/list", REMOTE_ADDR=ip)  # an owner's route
    assert refused.status_code in (401, 403), refused.content
    assert _failures(ip) == 0


def test_a_good_api_secret_gives_its_slot_back_on_einstein(api_secret, ip):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_secret}")
    response = client.post(f"/v5.0.0/sessions/{uuid.uuid4()}/messages", {}, format="json", REMOTE_ADDR=ip)
    assert response.status_code not in (401, 429), response.content
    assert _failures(ip) == 0
    client.credentials(HTTP_AUTHORIZATION="Bearer sk-not-a-secret")
    refused = client.post(f"/v5.0.0/sessions/{uuid.uuid4()}/messages", {}, format="json", REMOTE_ADDR=ip)
    assert refused.status_code == 401
    assert _failures(ip) == 1


def test_direct_line_gives_good_credentials_slots_back(bot, ip):
    _, secret = directline_secret_create(bot=bot)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    generated = client.post("/v3/directline/tokens/generate", REMOTE_ADDR=ip)
    assert generated.status_code == 200, generated.content
    body = generated.json()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {body['token']}")
    path = f"/v3/directline/conversations/{body['conversationId']}/activities"
    assert client.get(path, REMOTE_ADDR=ip).status_code == 200
    posted = client.post(path, {"type": "message", "text": "hi"}, format="json", REMOTE_ADDR=ip)
    assert posted.status_code == 200, posted.content
    assert client.post(path, "[]", content_type="application/json", REMOTE_ADDR=ip).status_code == 400  # bad body
    assert client.get(f"/v3/directline/conversations/{uuid.uuid4()}/activities", REMOTE_ADDR=ip).status_code == 404
    assert _failures(ip) == 0
    client.credentials(HTTP_AUTHORIZATION="Bearer dls-not-a-secret")
    assert client.post("/v3/directline/tokens/generate", REMOTE_ADDR=ip).status_code == 401
    assert _failures(ip) == 1


def test_a_slot_added_once_the_holder_is_closed_is_given_back_at_once(rf):
    request = rf.get("/", REMOTE_ADDR=_ip())
    guard = FailedAuthenticationThrottle()
    assert guard.attempt_begin(request) is None
    with SlotsToGiveBack() as slots:
        pass
    slots.add(guard)
    assert guard.key is None and slots.guards == []
    assert _failures(request.META["REMOTE_ADDR"]) == 0


def test_slots_held_still_count_against_the_limit(rf, monkeypatch):
    """Holding a good credential's slot until the throttles never lets more bad credentials be checked."""
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {**SimpleRateThrottle.THROTTLE_RATES,
                                                                "failed_auth": "2/minute"})
    request = rf.get("/", REMOTE_ADDR=_ip())
    with SlotsToGiveBack() as slots:
        for _ in range(2):
            guard = FailedAuthenticationThrottle()
            assert guard.attempt_begin(request) is None
            slots.add(guard)
        assert FailedAuthenticationThrottle().attempt_begin(request) is not None  # refused unchecked
    assert FailedAuthenticationThrottle().attempt_begin(request) is None  # given back: room again
