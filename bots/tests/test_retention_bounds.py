"""A bot's conversation retention is bounded (botportal.validation) wherever it can be set."""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from botportal.errors import InvalidInput
from botportal.validation import RETENTION_DAYS_MAX
from bots.models import Bot
from bots.services.bot_definitions import bot_export, bot_import
from bots.tests.factories import bot_admin_form
from sessions_app.tests.apis.helpers import assert_error, post

pytestmark = pytest.mark.django_db
OUT_OF_RANGE = [0, RETENTION_DAYS_MAX + 1, 1_000_000]


@pytest.mark.parametrize("days", OUT_OF_RANGE)
def test_admin_refuses_out_of_range_retention(owner, login_client, days):
    response = login_client(owner).post(
        reverse("admin:bots_bot_add"), bot_admin_form(conversation_retention_days=str(days))
    )
    assert response.status_code == 200
    assert "conversation_retention_days" in response.context["adminform"].form.errors
    assert not Bot.objects.exists()


def test_admin_accepts_the_bounds(owner, login_client):
    response = login_client(owner).post(
        reverse("admin:bots_bot_add"), bot_admin_form(conversation_retention_days=str(RETENTION_DAYS_MAX))
    )
    assert response.status_code == 302
    assert Bot.objects.get().conversation_retention_days == RETENTION_DAYS_MAX


@pytest.mark.parametrize("days", OUT_OF_RANGE)
def test_api_refuses_out_of_range_retention(owner_client, days):
    response = post(owner_client, "/api/v1/bot/create", {"name": "x", "conversationRetentionDays": days})
    assert_error(response, 400, "BAD_REQUEST", "conversationRetentionDays")
    assert not Bot.objects.exists()


def test_api_sets_shows_and_clears_retention(owner_client):
    bot_id = post(owner_client, "/api/v1/bot/create", {"conversationRetentionDays": 90}).json()["id"]
    assert owner_client.get(f"/api/v1/bot/{bot_id}/fetch").json()["conversationRetentionDays"] == 90
    response = post(owner_client, f"/api/v1/bot/{bot_id}/update", {"conversationRetentionDays": RETENTION_DAYS_MAX + 1})
    assert_error(response, 400, "BAD_REQUEST", "conversationRetentionDays")
    post(owner_client, f"/api/v1/bot/{bot_id}/update", {"conversationRetentionDays": None})
    assert Bot.objects.get().conversation_retention_days is None


def _document(days):
    return {"format": "botportal.bot", "formatVersion": 1, "bot": {"name": "x", "conversationRetentionDays": days}}


@pytest.mark.parametrize("days", [*OUT_OF_RANGE, True, "30"])
def test_import_refuses_out_of_range_retention(owner, days):
    with pytest.raises(InvalidInput) as caught:
        bot_import(owner=owner, document=_document(days))
    assert "bot.conversationRetentionDays" in caught.value.fields
    assert not Bot.objects.exists()


def test_loadbot_refuses_out_of_range_retention_and_round_trips_a_valid_one(owner, tmp_path):
    path = tmp_path / "bot.json"
    path.write_text(json.dumps(_document(1_000_000)))
    with pytest.raises(CommandError):
        call_command("loadbot", str(path), "--owner", owner.username)
    assert not Bot.objects.exists()
    bot = bot_import(owner=owner, document=_document(45))
    assert bot.conversation_retention_days == 45
    assert bot_export(bot=bot)["bot"]["conversationRetentionDays"] == 45
