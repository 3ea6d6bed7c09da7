"""A bot's allowed origins over /api/v1: set on create and update, shown on fetch, checked as exact origins."""

import pytest

from bots.models import Bot

pytestmark = pytest.mark.django_db


def test_allowed_origins_on_create_update_and_fetch(owner_client):
    created = owner_client.post("/api/v1/bot/create", {"name": "Shop", "allowedOrigins": ["https://Shop.Example/"]},
                                format="json")
    assert created.status_code == 200, created.content
    bot_id = created.json()["id"]
    assert Bot.objects.get(pk=bot_id).allowed_origins == ["https://shop.example"]
    updated = owner_client.post(f"/api/v1/bot/{bot_id}/update", {"allowedOrigins": ["https://a.example"]},
                                format="json")
    assert updated.status_code == 200, updated.content
    fetched = owner_client.get(f"/api/v1/bot/{bot_id}/fetch").json()
    assert fetched["allowedOrigins"] == ["https://a.example"]


@pytest.mark.parametrize("value", [["https://*"], "https://a.example", [5]])
def test_bad_allowed_origins_are_refused(owner_client, bot, value):
    response = owner_client.post(f"/api/v1/bot/{bot.pk}/update", {"allowedOrigins": value}, format="json")
    assert response.status_code == 400, response.content
    assert "allowedOrigins" in response.json()["message"]
    bot.refresh_from_db()
    assert bot.allowed_origins == []
