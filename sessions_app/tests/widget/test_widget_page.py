import json

import pytest
from django.test import override_settings
from django.urls import reverse

from bots.tests.factories import BotFactory

pytestmark = pytest.mark.django_db


def widget_url(bot_id):
    return reverse("widget:page", kwargs={"bot_id": bot_id})


def page_config(response) -> dict:
    html = response.content.decode()
    start = html.index('<script id="bp-config" type="application/json">') + len(
        '<script id="bp-config" type="application/json">'
    )
    return json.loads(html[start : html.index("</script>", start)])


def test_public_bot_page_carries_its_configuration(client, public_bot):
    response = client.get(widget_url(public_bot.pk))

    assert response.status_code == 200
    config = page_config(response)
    assert config == {
        "botId": str(public_bot.pk),
        "name": "Public helper",
        "apiBase": "/api/v1",
        "prechat": [],
        "embedded": False,
        "parentOrigin": None,
    }
    html = response.content.decode()
    assert 'role="log"' in html
    assert '<label for="bp-input"' in html
    assert '<script type="module" src="/static/botportal/chat/main.js"></script>' in html


def test_embedded_flag_adds_a_close_button(client, public_bot):
    response = client.get(widget_url(public_bot.pk) + "?embed=1")

    assert page_config(response)["embedded"] is True
    assert 'id="bp-close"' in response.content.decode()


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("https://shop.example", "https://shop.example"),
        ("HTTPS://SHOP.EXAMPLE:443", "https://shop.example"),
        ("http://testserver", "http://testserver"),  # botportal's own pages
        ("https://evil.example", None),
        ("https://shop.example.evil.example", None),
        ("not an origin", None),
        ("", None),
    ],
)
def test_the_session_is_exchanged_only_with_an_allowed_host_page(client, owner, host, expected):
    bot = BotFactory(owner=owner, visibility="public", allowed_origins=["https://shop.example"])

    response = client.get(widget_url(bot.pk), {"embed": "1", "host": host})

    assert page_config(response)["parentOrigin"] == expected


def test_a_standalone_page_has_no_parent(client, owner):
    bot = BotFactory(owner=owner, visibility="public", allowed_origins=["https://shop.example"])

    response = client.get(widget_url(bot.pk), {"host": "https://shop.example"})

    assert page_config(response)["parentOrigin"] is None


@pytest.mark.parametrize("visibility", ["private", "protected"])
def test_non_public_bots_have_no_widget(client, owner, visibility):
    bot = BotFactory(owner=owner, visibility=visibility)

    assert client.get(widget_url(bot.pk)).status_code == 404


def test_unknown_bot_is_404(client, db):
    assert client.get(widget_url("2f1b8a52-4a9c-4a8e-9d57-0d1c1f0e2a11")).status_code == 404


def test_only_safe_methods(client, public_bot):
    assert client.post(widget_url(public_bot.pk)).status_code == 405


def test_none_allowed_means_framed_by_the_same_origin_only(client, public_bot):
    response = client.get(widget_url(public_bot.pk))

    csp = response["Content-Security-Policy"]
    assert "frame-ancestors 'self'" in csp
    assert csp.endswith("frame-ancestors 'self'")
    assert "X-Frame-Options" not in response


@override_settings(X_FRAME_OPTIONS="DENY")
def test_allowed_origins_may_frame_the_page_even_with_x_frame_options_deny(client, owner):
    bot = BotFactory(
        owner=owner,
        visibility="public",
        allowed_origins=["https://shop.example", "HTTPS://Blog.Example:443/", "http://localhost:8080"],
    )

    response = client.get(widget_url(bot.pk))

    assert response["Content-Security-Policy"].endswith(
        "frame-ancestors 'self' https://shop.example https://blog.example http://localhost:8080"
    )
    assert "X-Frame-Options" not in response


def test_entries_that_are_not_origins_never_reach_the_header(client, owner):
    bot = BotFactory(
        owner=owner,
        visibility="public",
        allowed_origins=[
            "https://ok.example",
            "https://evil.example; script-src *",
            "*",
            "javascript:alert(1)",
            "https://a.example/path",
            "https://user@b.example",
            "https://c.example\r\nSet-Cookie: x=1",
            42,
        ],
    )

    csp = client.get(widget_url(bot.pk))["Content-Security-Policy"]

    assert csp.endswith("frame-ancestors 'self' https://ok.example")


def test_the_page_allows_scripts_from_botportal_only(client, public_bot):
    csp = client.get(widget_url(public_bot.pk))["Content-Security-Policy"]

    assert "default-src 'none'" in csp
    assert "script-src 'self'" in csp
    assert "connect-src 'self'" in csp


@pytest.mark.parametrize(
    ("prechat", "fields"),
    [
        (True, ["name", "email"]),
        (["email"], ["email"]),
        (["name", "phone"], ["name"]),
        (False, []),
        ("yes", []),
    ],
)
def test_prechat_fields_come_from_the_bot_meta(client, owner, prechat, fields):
    bot = BotFactory(owner=owner, visibility="public", meta={"widget": {"prechat": prechat}})

    assert page_config(client.get(widget_url(bot.pk)))["prechat"] == fields


def test_bot_name_is_escaped(client, owner):
    bot = BotFactory(owner=owner, visibility="public", name="<img src=x onerror=alert(1)>")

    html = client.get(widget_url(bot.pk)).content.decode()

    assert "<img src=x" not in html
    assert page_config(client.get(widget_url(bot.pk)))["name"] == "<img src=x onerror=alert(1)>"
