import pytest
from django.contrib.staticfiles import finders
from django.test import RequestFactory

from bots.tests.factories import BotFactory
from sessions_app.widget.views import bot_embed_snippet, bot_embed_snippet_html, origin_normalize

pytestmark = pytest.mark.django_db


def test_snippet_points_at_the_unhashed_launcher(public_bot):
    snippet = bot_embed_snippet(bot=public_bot, base_url="https://chat.example.com/")

    assert snippet == (
        f'<script src="https://chat.example.com/static/botportal/widget.js" data-bot="{public_bot.pk}" async></script>'
    )


def test_snippet_files_exist_for_the_static_finders():
    for name in ("botportal/widget.js", "botportal/chat/main.js", "botportal/chat.css"):
        assert finders.find(name), name


def test_admin_html_escapes_the_snippet_and_warns_about_a_private_bot(bot):
    request = RequestFactory().get("/admin/", HTTP_HOST="localhost")

    html = bot_embed_snippet_html(bot=bot, request=request)

    assert "&lt;script src=&quot;http://localhost/static/botportal/widget.js&quot;" in html
    assert "public bots only" in html
    assert "No allowed origins yet" in html


def test_admin_html_lists_the_allowed_origins(owner):
    bot = BotFactory(owner=owner, visibility="public", allowed_origins=["https://shop.example", "nonsense"])

    html = bot_embed_snippet_html(bot=bot, request=RequestFactory().get("/"))

    assert "https://shop.example" in html
    assert "nonsense" not in html
    assert "public bots only" not in html


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://shop.example", "https://shop.example"),
        ("https://Shop.Example/", "https://shop.example"),
        ("http://shop.example:80", "http://shop.example"),
        ("http://127.0.0.1:8711", "http://127.0.0.1:8711"),
        ("http://[::1]:8711", "http://[::1]:8711"),
        ("ftp://shop.example", None),
        ("https://shop.example/path", None),
        ("https://shop.example?x=1", None),
        ("https://shop.example:99999", None),
        ("null", None),
        ("", None),
        (None, None),
    ],
)
def test_origin_normalize(value, expected):
    assert origin_normalize(value) == expected
