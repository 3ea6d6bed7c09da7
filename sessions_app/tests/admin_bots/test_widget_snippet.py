import pytest

pytestmark = pytest.mark.django_db


def test_bot_page_shows_its_embed_snippet(login_client, owner, public_bot):
    page = login_client(owner).get(f"/admin/bots/bot/{public_bot.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="widget-snippet"' in html
    assert f"data-bot=&quot;{public_bot.pk}&quot;" in html  # shown as text, escaped
    assert "botportal/widget.js" in html
