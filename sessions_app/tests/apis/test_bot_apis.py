import json
from pathlib import Path

import pytest

from bots.models import Bot
from bots.services.bot_definitions import bot_import

pytestmark = pytest.mark.django_db
EXAMPLE = json.loads((Path(__file__).resolve().parents[3] / "examples" / "order-assistant.json").read_text())


def post(client, path, body):
    return client.post(path, body, format="json")


def test_export_then_import(owner, owner_client):
    bot = bot_import(owner=owner, document=EXAMPLE)
    exported = post(owner_client, f"/api/v1/bot/{bot.id}/export", {})
    assert exported.status_code == 200 and exported.json()["bot"]["name"] == "Order assistant"
    created = post(owner_client, "/api/v1/bot/import", exported.json())
    assert created.status_code == 200
    new = Bot.objects.get(pk=created.json()["id"])
    assert new.owner == owner and new.intents.count() == bot.intents.count()


def test_another_owners_bot_is_not_found(owner, other_client, owner_client):
    bot = bot_import(owner=owner, document=EXAMPLE)
    response = post(other_client, f"/api/v1/bot/{bot.id}/export", {})
    assert response.status_code == 404 and response.json()["code"] == "NOT_FOUND"
    assert post(owner_client, "/api/v1/bot/not-a-uuid/export", {}).status_code == 404


def test_a_session_token_cannot_export(owner, anon_client, public_bot):
    bot = bot_import(owner=owner, document=EXAMPLE)
    session = post(anon_client, f"/api/v1/bot/{public_bot.id}/session/create", {})
    assert session.status_code == 200
    anon_client.credentials(HTTP_AUTHORIZATION=f"Bearer {session.json()['token']}")
    assert post(anon_client, f"/api/v1/bot/{bot.id}/export", {}).status_code == 401


def test_import_rejects_a_bad_document_and_stores_nothing(owner_client):
    response = post(owner_client, "/api/v1/bot/import", {"format": "something else", "bot": {"visibility": "x"}})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "BAD_REQUEST" and "format" in body["message"] and "bot.visibility" in body["message"]
    assert not Bot.objects.exists()


def test_dataset_search(owner, owner_client, other_client):
    bot = bot_import(owner=owner, document=EXAMPLE)
    path = f"/api/v1/dataset/{bot.dataset_id}/search"
    response = post(owner_client, path, {"search": "do gift cards expire"})
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(bot.dataset_id)
    first = body["records"][0]
    assert first["text"].startswith("Gift cards") and first["source"].endswith("gift-cards") and first["score"] > 0
    assert post(owner_client, path, {}).status_code == 400
    assert post(other_client, path, {"search": "gift"}).status_code == 404


def test_credentials_are_required(owner, anon_client):
    bot = bot_import(owner=owner, document=EXAMPLE)
    response = post(anon_client, f"/api/v1/bot/{bot.id}/export", {})
    assert response.status_code == 401 and response.json()["code"] == "NOT_AUTHENTICATED"
