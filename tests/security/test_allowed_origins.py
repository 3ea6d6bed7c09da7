"""A bot's allowed origins are exact origins: CSP frame-ancestors would read `https://*.example.org` or
`https://*` as wildcards while CORS compares them literally, so no wildcard is accepted anywhere, and
one stored before this rule is ignored by both alike."""

import pytest
from django.urls import reverse

from botportal import validation
from botportal.errors import InvalidInput
from bots.models import Bot
from bots.services.bot_definitions import bot_export, bot_import
from bots.tests.factories import BotFactory, bot_admin_form
from sessions_app.tests.apis.helpers import post

pytestmark = pytest.mark.django_db

NOT_ORIGINS = [
    "https://*.example.org",
    "https://*",
    "*",
    "https://shop*.example.org",
    "https://*:443",
    "http://*.example.org:8080",
    "https://example.org/path",
    "https://example.org/*",
    "https://example.org?",
    "https://user@example.org",
    "https://example.org:99999",
    "https://exa_mple.org",
    "https://-example.org",
    "https://example..org",
    "ftp://example.org",
    "example.org",
    "null",
    "",
    42,
    None,
]


@pytest.mark.parametrize("value", NOT_ORIGINS)
def test_anything_but_an_exact_origin_is_refused(value):
    assert validation.origin_normalize(value) is None
    with pytest.raises(InvalidInput) as refused:
        validation.allowed_origins(["https://fine.example", value])
    assert list(refused.value.fields) == ["allowedOrigins[1]"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://Shop.Example/", "https://shop.example"),
        ("https://shop.example:443", "https://shop.example"),
        ("http://localhost:8000", "http://localhost:8000"),
        ("http://[::1]:8711", "http://[::1]:8711"),
        ("http://[0:0::1]", "http://[::1]"),
        ("https://bücher.example", "https://xn--bcher-kva.example"),
    ],
)
def test_origins_are_normalised(value, expected):
    assert validation.origin_normalize(value) == expected
    assert validation.allowed_origins([value, expected]) == [expected]


def test_allowed_origins_must_be_a_list():
    assert validation.allowed_origins(None) == []
    with pytest.raises(InvalidInput):
        validation.allowed_origins("https://shop.example")


@pytest.mark.parametrize("value", ['["https://*.example.org"]', '["https://*"]', '["https://shop.example/path"]'])
def test_the_admin_refuses_wildcard_origins(owner, login_client, value):
    bot = BotFactory(owner=owner, allowed_origins=["https://shop.example"])
    response = login_client(owner).post(
        reverse("admin:bots_bot_change", args=[bot.pk]), bot_admin_form(allowed_origins=value)
    )
    assert response.status_code == 200
    assert "allowed_origins" in response.context["adminform"].form.errors
    bot.refresh_from_db()
    assert bot.allowed_origins == ["https://shop.example"]
    add = login_client(owner).post(reverse("admin:bots_bot_add"), bot_admin_form(name="New", allowed_origins=value))
    assert add.status_code == 200 and not Bot.objects.filter(name="New").exists()


def test_the_admin_stores_origins_normalised(owner, login_client):
    bot = BotFactory(owner=owner)
    response = login_client(owner).post(
        reverse("admin:bots_bot_change", args=[bot.pk]),
        bot_admin_form(allowed_origins='["https://Shop.Example/", "https://shop.example"]'),
    )
    assert response.status_code == 302
    bot.refresh_from_db()
    assert bot.allowed_origins == ["https://shop.example"]


@pytest.fixture
def legacy_bot(owner):
    # Stored before origins were checked on the way in.
    return BotFactory(
        owner=owner, visibility="public", allowed_origins=["https://*.example.org", "https://*", "https://shop.example"]
    )


def test_a_stored_wildcard_frames_nothing(client, legacy_bot):
    response = client.get(f"/widget/{legacy_bot.pk}/")
    assert response.status_code == 200
    ancestors = response["Content-Security-Policy"].split("frame-ancestors", 1)[1]
    assert "*" not in ancestors
    assert ancestors.split() == ["'self'", "https://shop.example"]


@pytest.mark.parametrize("origin", ["https://a.example.org", "https://*.example.org", "https://*", "https://evil.example"])
def test_a_stored_wildcard_opens_no_cors(client, legacy_bot, origin):
    response = client.options(
        f"/api/v1/bot/{legacy_bot.pk}/session/create",
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
    )
    assert "Access-Control-Allow-Origin" not in response


def test_the_api_and_import_set_no_origins(owner, owner_client):
    # Only the admin sets allowed origins; the API and a bot document cannot plant one.
    created = post(owner_client, "/api/v1/bot/create", {"name": "Api bot", "allowedOrigins": ["https://*"]})
    if created.status_code == 200:
        assert Bot.objects.get(pk=created.json()["id"]).allowed_origins == []
    else:
        assert created.status_code == 400
    document = bot_export(bot=BotFactory(owner=owner))
    document["bot"]["allowedOrigins"] = ["https://*"]
    document["bot"]["allowed_origins"] = ["https://*"]
    assert bot_import(owner=owner, document=document).allowed_origins == []
