"""Every throttle, end to end on both protocols: 429 in the protocol's own error shape with Retry-After.

Rates are read by DRF once, into `SimpleRateThrottle.THROTTLE_RATES`; each test sets small ones there.
"""

import pytest
from rest_framework.test import APIClient, APIRequestFactory
from rest_framework.throttling import BaseThrottle

from bots.tests.factories import BotFactory
from sessions_app.models import Conversation, Message
from sessions_app.services.owners import owner_profile_ensure
from sessions_app.tests.apis.einstein.conftest import EinsteinClient, begin_body, validate
from sessions_app.tests.apis.helpers import assert_error, post, token_client
from tests.throttle_rates import rates_set

pytestmark = pytest.mark.django_db

HIGH = "1000/minute"


@pytest.fixture
def rates(monkeypatch):
    """Set throttle rates for one test: rates(session_token="2/minute", ...); the others stay high."""

    def apply(**overrides):
        rates_set(monkeypatch, HIGH, **overrides)

    apply()
    return apply


@pytest.fixture
def proxies(settings):
    def apply(count: int):
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": count}

    return apply


def client_from(ip: str, forwarded: str | None = None, secret: str | None = None) -> APIClient:
    client = APIClient(REMOTE_ADDR=ip)
    extra = {}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    if secret is not None:
        extra["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    client.credentials(**extra)
    return client


def assert_chatbotkit_429(response):
    assert_error(response, 429, "TOO_MANY_REQUESTS")
    assert int(response["Retry-After"]) >= 1


def assert_einstein_429(response):
    assert response.status_code == 429, response.content
    body = response.json()
    assert body["error"] == "TooManyRequestsError"
    assert body["status"] == 429
    assert int(response["Retry-After"]) >= 1
    validate(response.wsgi_request, response)


def create_session(client, bot):
    return post(client, f"/api/v1/bot/{bot.pk}/session/create")


# --- /api/v1 ---------------------------------------------------------------------------------------


def test_public_session_create_is_limited_per_ip(rates, public_bot):
    rates(session_create_ip="2/minute")
    first = client_from("203.0.113.1")
    assert create_session(first, public_bot).status_code == 200
    assert create_session(first, public_bot).status_code == 200
    before = Conversation.objects.count()
    assert_chatbotkit_429(create_session(first, public_bot))
    assert Conversation.objects.count() == before
    # Another address has its own allowance.
    assert create_session(client_from("203.0.113.2"), public_bot).status_code == 200


def test_public_session_create_is_limited_per_bot(rates, owner, public_bot):
    rates(session_create_bot="2/minute")
    assert create_session(client_from("203.0.113.1"), public_bot).status_code == 200
    assert create_session(client_from("203.0.113.2"), public_bot).status_code == 200
    assert_chatbotkit_429(create_session(client_from("203.0.113.3"), public_bot))
    other_bot = BotFactory(owner=owner, visibility="public")
    assert create_session(client_from("203.0.113.3"), other_bot).status_code == 200


def test_the_per_bot_count_is_kept_under_the_canonical_bot_id(rates, public_bot):
    rates(session_create_bot="1/minute")
    assert create_session(client_from("203.0.113.1"), public_bot).status_code == 200
    upper = post(client_from("203.0.113.2"), f"/api/v1/bot/{str(public_bot.pk).upper()}/session/create")
    assert_chatbotkit_429(upper)


def test_malformed_bot_ids_make_no_per_bot_cache_keys(rates, db):
    from django.core.cache import cache

    rates(session_create_bot="1/minute")
    for junk in ("not-a-bot", "1234", "x" * 200):
        assert_error(post(client_from("203.0.113.1"), f"/api/v1/bot/{junk}/session/create"), 404, "NOT_FOUND")
        assert cache.get(f"throttle_session_create_bot_{junk}") is None
    # Each one was refused as unknown rather than by a per-bot count.
    assert_error(post(client_from("203.0.113.1"), "/api/v1/bot/not-a-bot/session/create"), 404, "NOT_FOUND")


def test_owner_session_create_is_not_counted_per_ip(rates, api_secret, bot):
    # An owner's back end opens sessions for many users from one address: its API secret's rate applies.
    rates(session_create_ip="1/minute", session_create_bot="1/minute")
    client = client_from("203.0.113.1", secret=api_secret)
    for _ in range(3):
        assert create_session(client, bot).status_code == 200


def test_messages_are_limited_per_session_token(rates, public_bot):
    rates(session_token="2/minute")
    anon = client_from("203.0.113.1")
    opened = create_session(anon, public_bot).json()
    client = token_client(opened["token"])
    path = f"/api/v1/conversation/{opened['conversationId']}/complete"
    assert post(client, path, {"text": "one"}).status_code == 200
    assert post(client, path, {"text": "two"}).status_code == 200
    before = Message.objects.count()
    assert_chatbotkit_429(post(client, path, {"text": "three"}))
    assert_chatbotkit_429(post(client, f"/api/v1/conversation/{opened['conversationId']}/message/list"))
    assert Message.objects.count() == before
    # Another session's token is counted on its own.
    second = create_session(anon, public_bot).json()
    assert (
        post(
            token_client(second["token"]),
            f"/api/v1/conversation/{second['conversationId']}/complete",
            {"text": "hello"},
        ).status_code
        == 200
    )


def test_requests_are_limited_per_api_secret_owner(rates, api_secret, other_api_secret):
    rates(api_secret="2/minute")
    client = client_from("203.0.113.1", secret=api_secret)
    assert client.get("/api/v1/bot/list").status_code == 200
    assert client.get("/api/v1/bot/list").status_code == 200
    assert_chatbotkit_429(client.get("/api/v1/bot/list"))
    assert_chatbotkit_429(post(client, "/api/v1/bot/create", {"name": "Refused"}))
    assert client_from("203.0.113.1", secret=other_api_secret).get("/api/v1/bot/list").status_code == 200


def test_failed_authentication_is_limited_per_ip(rates, api_secret):
    rates(failed_auth="2/minute")
    guessing = client_from("203.0.113.9", secret="sk-" + "x" * 43)
    assert_error(guessing.get("/api/v1/bot/list"), 401, "NOT_AUTHENTICATED")
    assert_error(
        post(guessing, "/api/v1/conversation/00000000-0000-0000-0000-000000000000/complete"), 401, "NOT_AUTHENTICATED"
    )
    assert_chatbotkit_429(guessing.get("/api/v1/bot/list"))
    # Past the limit the address is refused without the credential being checked, a valid one included.
    assert_chatbotkit_429(client_from("203.0.113.9", secret=api_secret).get("/api/v1/bot/list"))
    assert client_from("203.0.113.10", secret=api_secret).get("/api/v1/bot/list").status_code == 200


def test_successful_authentication_is_not_counted_as_failed(rates, api_secret):
    rates(failed_auth="1/minute")
    client = client_from("203.0.113.9", secret=api_secret)
    for _ in range(3):
        assert client.get("/api/v1/bot/list").status_code == 200


# --- /v5.0.0 ---------------------------------------------------------------------------------------


@pytest.fixture
def org_id(owner):
    return owner_profile_ensure(owner=owner).org_id


def einstein_from(ip: str, secret: str | None, org_id: str) -> EinsteinClient:
    client = EinsteinClient(secret, org_id)
    client.client = APIClient(REMOTE_ADDR=ip)
    return client


def test_einstein_requests_are_limited_per_api_secret_owner(
    rates, api_secret, other_api_secret, other_owner, org_id, bot
):
    rates(api_secret="2/minute")
    client = einstein_from("203.0.113.1", api_secret, org_id)
    session_id = client.begin(bot).json()["sessionId"]
    assert client.send(session_id, {"type": "text", "sequenceId": 1, "text": "hi"}).status_code == 200
    before = (Conversation.objects.count(), Message.objects.count())
    assert_einstein_429(client.send(session_id, {"type": "text", "sequenceId": 2, "text": "again"}))
    assert_einstein_429(client.begin(bot, externalSessionKey="5a7d1c3e-0000-4000-8000-000000000002"))
    assert_einstein_429(client.end(session_id))
    assert (Conversation.objects.count(), Message.objects.count()) == before
    other_bot = BotFactory(owner=other_owner)
    other = einstein_from("203.0.113.1", other_api_secret, owner_profile_ensure(owner=other_owner).org_id)
    assert other.begin(other_bot).status_code == 200


def test_einstein_messages_are_limited_per_session(rates, api_secret, org_id, bot):
    rates(session_token="2/minute")
    client = einstein_from("203.0.113.1", api_secret, org_id)
    session_id = client.begin(bot).json()["sessionId"]
    assert client.send(session_id, {"type": "text", "sequenceId": 1, "text": "one"}).status_code == 200
    assert client.send(session_id, {"type": "text", "sequenceId": 2, "text": "two"}).status_code == 200
    before = Message.objects.count()
    assert_einstein_429(client.send(session_id, {"type": "text", "sequenceId": 3, "text": "three"}))
    assert Message.objects.count() == before
    second = client.begin(bot, externalSessionKey="5a7d1c3e-0000-4000-8000-000000000002").json()["sessionId"]
    assert client.send(second, {"type": "text", "sequenceId": 1, "text": "hello"}).status_code == 200


def test_einstein_failed_authentication_is_limited_per_ip(rates, api_secret, org_id, bot):
    rates(failed_auth="2/minute")
    guessing = einstein_from("203.0.113.9", "sk-" + "y" * 43, org_id)
    assert guessing.begin(bot).status_code == 401
    assert (
        guessing.send(
            "00000000-0000-0000-0000-000000000000", {"type": "text", "sequenceId": 1, "text": "x"}
        ).status_code
        == 401
    )
    assert_einstein_429(guessing.begin(bot))
    assert_einstein_429(einstein_from("203.0.113.9", api_secret, org_id).begin(bot))
    assert einstein_from("203.0.113.10", api_secret, org_id).begin(bot).status_code == 200


def test_failed_attempts_count_across_both_protocols(rates, org_id, bot):
    rates(failed_auth="2/minute")
    bad = "sk-" + "z" * 43
    assert einstein_from("203.0.113.9", bad, org_id).begin(bot).status_code == 401
    assert client_from("203.0.113.9", secret=bad).get("/api/v1/bot/list").status_code == 401
    assert_chatbotkit_429(client_from("203.0.113.9", secret=bad).get("/api/v1/bot/list"))
    assert_einstein_429(einstein_from("203.0.113.9", bad, org_id).begin(bot))


def test_a_missing_credential_is_not_a_failed_attempt(rates, org_id, bot):
    rates(failed_auth="1/minute")
    anonymous = einstein_from("203.0.113.9", None, org_id)
    for _ in range(3):
        assert anonymous.begin(bot).status_code == 401


# --- the client address behind proxies -----------------------------------------------------------


def ident(remote_addr: str, forwarded: str | None) -> str:
    extra = {"REMOTE_ADDR": remote_addr}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    request = APIRequestFactory().get("/api/v1/bot/list", **extra)
    return BaseThrottle().get_ident(request)


@pytest.mark.parametrize(
    ("count", "forwarded", "expected"),
    [
        (0, None, "10.0.0.1"),
        (0, "198.51.100.7", "10.0.0.1"),
        (0, "198.51.100.7, 192.0.2.1", "10.0.0.1"),
        (1, None, "10.0.0.1"),
        (1, "198.51.100.7", "198.51.100.7"),
        (1, "6.6.6.6, 198.51.100.7", "198.51.100.7"),
        (2, "6.6.6.6, 198.51.100.7, 192.0.2.1", "198.51.100.7"),
        (2, "198.51.100.7", "198.51.100.7"),
    ],
)
def test_the_client_address_trusts_exactly_the_configured_proxies(proxies, count, forwarded, expected):
    proxies(count)
    assert ident("10.0.0.1", forwarded) == expected


def test_forwarded_for_cannot_dodge_the_limit_without_trusted_proxies(rates, proxies, public_bot):
    proxies(0)
    rates(session_create_ip="1/minute")
    assert create_session(client_from("10.0.0.1", forwarded="198.51.100.1"), public_bot).status_code == 200
    assert_chatbotkit_429(create_session(client_from("10.0.0.1", forwarded="198.51.100.2"), public_bot))


def test_behind_one_proxy_each_client_has_its_own_allowance(rates, proxies, public_bot):
    proxies(1)
    rates(session_create_ip="1/minute")
    # The proxy appends the address it saw; whatever the client itself wrote before it is not trusted.
    assert create_session(client_from("10.0.0.1", forwarded="198.51.100.1"), public_bot).status_code == 200
    assert create_session(client_from("10.0.0.1", forwarded="198.51.100.2"), public_bot).status_code == 200
    assert_chatbotkit_429(create_session(client_from("10.0.0.1", forwarded="1.2.3.4, 198.51.100.1"), public_bot))


def test_einstein_failed_attempts_use_the_trusted_client_address(rates, proxies, org_id, bot):
    proxies(1)
    rates(failed_auth="1/minute")
    bad = "sk-" + "q" * 43
    client = EinsteinClient(bad, org_id)
    client.client = APIClient(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.1")
    assert client.begin(bot).status_code == 401
    assert_einstein_429(client.begin(bot))
    other = EinsteinClient(bad, org_id)
    other.client = APIClient(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.2")
    assert other.begin(bot).status_code == 401


# --- message length: refused before any work ------------------------------------------------------


@pytest.fixture
def short_messages(settings):
    settings.BOTPORTAL = {**settings.BOTPORTAL, "MAX_MESSAGE_CHARS": 20}
    return "x" * 21


def counts():
    return Conversation.objects.count(), Message.objects.count()


def test_chatbotkit_refuses_long_messages_before_any_work(short_messages, anon_client, public_bot):
    before = counts()
    response = post(
        anon_client,
        f"/api/v1/bot/{public_bot.pk}/session/create",
        {"messages": [{"type": "user", "text": short_messages}]},
    )
    assert_error(response, 400, "BAD_REQUEST", "messages[0].text")
    assert counts() == before
    opened = post(anon_client, f"/api/v1/bot/{public_bot.pk}/session/create").json()
    client = token_client(opened["token"])
    before = counts()
    for route in ("complete", "send"):
        response = post(client, f"/api/v1/conversation/{opened['conversationId']}/{route}", {"text": short_messages})
        assert_error(response, 400, "BAD_REQUEST", "limit is 20")
    assert counts() == before
    exact = post(client, f"/api/v1/conversation/{opened['conversationId']}/complete", {"text": "x" * 20})
    assert exact.status_code == 200


def test_einstein_refuses_long_messages_before_any_work(short_messages, api_secret, org_id, bot):
    client = einstein_from("203.0.113.1", api_secret, org_id)
    before = counts()
    response = client.post(f"/v5.0.0/bots/{bot.pk}/sessions", begin_body(message={"text": short_messages}))
    assert response.status_code == 400 and "limit is 20" in response.json()["message"]
    assert counts() == before
    session_id = client.begin(bot).json()["sessionId"]
    before = counts()
    response = client.send(session_id, {"type": "text", "sequenceId": 1, "text": short_messages})
    assert response.status_code == 400 and "limit is 20" in response.json()["message"]
    assert counts() == before
    # The refused turn did not use up its sequenceId.
    assert client.send(session_id, {"type": "text", "sequenceId": 1, "text": "x" * 20}).status_code == 200
