import json
from pathlib import Path

import pytest
from rest_framework.test import APIRequestFactory, force_authenticate

from botportal.errors import InvalidInput, NotFound
from bots.api.views import BotExportView, BotImportView, DatasetSearchView
from bots.models import Bot
from bots.services import bot_import

pytestmark = pytest.mark.django_db
EXAMPLE = json.loads((Path(__file__).resolve().parents[3] / "examples" / "order-assistant.json").read_text())
factory = APIRequestFactory()


def call(view, user, body, **kwargs):
    request = factory.post("/", body, format="json")
    force_authenticate(request, user=user)
    return view.as_view()(request, **kwargs)


def test_export_then_import(owner):
    bot = bot_import(owner=owner, document=EXAMPLE)
    exported = call(BotExportView, owner, {}, bot_id=str(bot.id))
    assert exported.status_code == 200 and exported.data["bot"]["name"] == "Order assistant"
    created = call(BotImportView, owner, exported.data)
    assert created.status_code == 200
    assert Bot.objects.get(pk=created.data["id"]).owner == owner


def test_export_of_another_owners_bot_is_not_found(owner, other_owner):
    bot = bot_import(owner=owner, document=EXAMPLE)
    with pytest.raises(NotFound):
        call(BotExportView, other_owner, {}, bot_id=str(bot.id))
    with pytest.raises(NotFound):
        call(BotExportView, owner, {}, bot_id="not-a-uuid")


def test_import_rejects_a_bad_document(owner):
    with pytest.raises(InvalidInput):
        call(BotImportView, owner, {"format": "something else"})
    assert not Bot.objects.exists()


def test_dataset_search(owner, other_owner):
    bot = bot_import(owner=owner, document=EXAMPLE)
    response = call(DatasetSearchView, owner, {"search": "do gift cards expire"}, dataset_id=str(bot.dataset_id))
    assert response.status_code == 200 and response.data["id"] == str(bot.dataset_id)
    first = response.data["records"][0]
    assert first["text"].startswith("Gift cards") and first["source"].endswith("gift-cards") and first["score"] > 0
    with pytest.raises(InvalidInput):
        call(DatasetSearchView, owner, {"search": ""}, dataset_id=str(bot.dataset_id))
    with pytest.raises(NotFound):
        call(DatasetSearchView, other_owner, {"search": "gift"}, dataset_id=str(bot.dataset_id))


def test_unauthenticated_requests_are_refused(owner):
    bot = bot_import(owner=owner, document=EXAMPLE)
    response = BotExportView.as_view()(factory.post("/", {}, format="json"), bot_id=str(bot.id))
    assert response.status_code in (401, 403)
