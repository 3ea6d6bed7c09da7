"""Per-bot CORS on the session routes: decided by the bot's allowed origins, nothing global."""

import pytest

from bots.tests.factories import BotFactory
from sessions_app.tests.factories import ConversationFactory

pytestmark = pytest.mark.django_db

SHOP = "https://shop.example"


def preflight(client, path, origin):
    return client.options(
        path,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type",
    )


@pytest.fixture
def shop_bot(owner):
    return BotFactory(owner=owner, visibility="public", allowed_origins=[SHOP])


@pytest.mark.parametrize("prefix", ["/api/v1", "/v1"])
def test_session_create_answers_cors_for_an_allowed_origin(client, shop_bot, prefix):
    response = preflight(client, f"{prefix}/bot/{shop_bot.pk}/session/create", SHOP)

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == SHOP
    allowed_headers = response["Access-Control-Allow-Headers"].lower()
    assert "authorization" in allowed_headers
    assert "content-type" in allowed_headers


def test_origins_are_compared_normalised(client, owner):
    bot = BotFactory(owner=owner, visibility="public", allowed_origins=["HTTPS://Shop.Example:443/"])

    response = preflight(client, f"/api/v1/bot/{bot.pk}/session/create", SHOP)

    assert response["Access-Control-Allow-Origin"] == SHOP


@pytest.mark.parametrize("origin", ["https://evil.example", "http://shop.example", "https://shop.example:8443", "null"])
def test_other_origins_get_no_cors(client, shop_bot, origin):
    response = preflight(client, f"/api/v1/bot/{shop_bot.pk}/session/create", origin)

    assert "Access-Control-Allow-Origin" not in response


def test_a_bot_without_allowed_origins_is_same_origin_only(client, public_bot):
    response = preflight(client, f"/api/v1/bot/{public_bot.pk}/session/create", SHOP)

    assert "Access-Control-Allow-Origin" not in response


def test_one_bots_origin_opens_nothing_for_another_bot(client, owner, shop_bot):
    other = BotFactory(owner=owner, visibility="public", allowed_origins=["https://other.example"])

    response = preflight(client, f"/api/v1/bot/{other.pk}/session/create", SHOP)

    assert "Access-Control-Allow-Origin" not in response


@pytest.mark.parametrize("route", ["complete", "message/list", "session/refresh", "send", "receive"])
def test_conversation_routes_follow_their_bots_origins(client, shop_bot, route):
    conversation = ConversationFactory(bot=shop_bot)

    allowed = preflight(client, f"/api/v1/conversation/{conversation.pk}/{route}", SHOP)
    refused = preflight(client, f"/api/v1/conversation/{conversation.pk}/{route}", "https://evil.example")

    assert allowed["Access-Control-Allow-Origin"] == SHOP
    assert "Access-Control-Allow-Origin" not in refused


def test_conversation_of_another_bot_is_not_opened_by_this_origin(client, owner, shop_bot):
    conversation = ConversationFactory(bot=BotFactory(owner=owner, visibility="public"))

    response = preflight(client, f"/api/v1/conversation/{conversation.pk}/complete", SHOP)

    assert "Access-Control-Allow-Origin" not in response


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/bot/not-a-uuid/session/create",
        "/api/v1/conversation/not-a-uuid/complete",
        "/api/v1/bot/2f1b8a52-4a9c-4a8e-9d57-0d1c1f0e2a11/session/create",
        "/api/v1/conversation/2f1b8a52-4a9c-4a8e-9d57-0d1c1f0e2a11/complete",
    ],
)
def test_unknown_ids_get_no_cors(client, path):
    assert "Access-Control-Allow-Origin" not in preflight(client, path, SHOP)


def test_other_api_routes_never_answer_cors_even_for_a_bots_origin(client, shop_bot):
    for path in (f"/api/v1/bot/{shop_bot.pk}/fetch", "/api/v1/bot/list", "/api/v1/conversation/list"):
        assert "Access-Control-Allow-Origin" not in preflight(client, path, SHOP)


def test_the_widget_page_is_not_a_cors_route(client, shop_bot):
    response = client.get(f"/widget/{shop_bot.pk}/", HTTP_ORIGIN=SHOP)

    assert "Access-Control-Allow-Origin" not in response


def test_same_origin_calls_are_decided_without_a_query(shop_bot, django_assert_num_queries):
    from django.test import RequestFactory

    from sessions_app.widget.views import cors_allow_bot_origin

    request = RequestFactory().post(
        f"/api/v1/bot/{shop_bot.pk}/session/create", HTTP_HOST="localhost", HTTP_ORIGIN="http://localhost"
    )

    with django_assert_num_queries(0):
        assert cors_allow_bot_origin(None, request) is False


def test_a_bot_may_list_botportals_own_origin_without_harm(client, owner):
    bot = BotFactory(owner=owner, visibility="public", allowed_origins=["http://testserver", SHOP])

    response = preflight(client, f"/api/v1/bot/{bot.pk}/session/create", SHOP)

    assert response["Access-Control-Allow-Origin"] == SHOP
