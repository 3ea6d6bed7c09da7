import json
from io import StringIO
from pathlib import Path
from unittest import mock

import pytest
from django.core.management import call_command

from bots.engine import Turn, classifier, respond
from bots.models import BotIntentModel
from bots.services import intent_models
from bots.services.bot_definitions import bot_definition_changed

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.django_db


def document(intents: int, utterances: int) -> dict:
    return {
        "format": "botportal.bot",
        "formatVersion": 1,
        "bot": {"name": "many"},
        "intents": [
            {"label": f"intent{i}", "utterances": [f"topic{i} question {j}" for j in range(utterances)]}
            for i in range(intents)
        ],
    }


def test_loadbot_leaves_even_a_large_bot_ready(owner, tmp_path, monkeypatch):
    monkeypatch.setattr(intent_models, "INLINE_MAX_UTTERANCES", 10)  # too large to build in the request
    path = tmp_path / "bot.json"
    path.write_text(json.dumps(document(4, 10)))
    out = StringIO()
    with mock.patch("bots.tasks.build_intent_model.delay"):
        call_command("loadbot", str(path), owner=owner.username, stdout=out)
    model = BotIntentModel.objects.get(bot_id=out.getvalue().strip())
    assert model.status == "ready" and model.utterance_count == 40
    assert model.bot.version == model.version
    with mock.patch.object(classifier, "train", side_effect=AssertionError("trained in a turn")):
        reply = respond(Turn(bot=model.bot, variables={}, state={}, text="a question about topic2"))
    assert reply.intents[0].label == "intent2"


def test_a_large_bot_is_built_on_the_worker_a_small_one_in_the_request(
    owner, monkeypatch, django_capture_on_commit_callbacks
):
    from bots.services.bot_definitions import bot_import

    monkeypatch.setattr(intent_models, "INLINE_MAX_UTTERANCES", 10)
    with mock.patch("bots.tasks.build_intent_model.delay") as queued:
        with django_capture_on_commit_callbacks(execute=True):
            small = bot_import(owner=owner, document=document(2, 5))
        assert BotIntentModel.objects.get(bot=small).status == "ready"
        queued.assert_not_called()
        with django_capture_on_commit_callbacks(execute=True):
            large = bot_import(owner=owner, document=document(3, 5))
    queued.assert_called_once_with(str(large.pk), large.version)
    assert BotIntentModel.objects.get(bot=large).status == "queued"


def test_a_new_version_with_the_same_utterances_reuses_the_model(bot):
    from bots.tests.factories import IntentFactory, UtteranceFactory

    UtteranceFactory(intent=IntentFactory(bot=bot, label="greet"), text="hello")
    intent_models.intent_model_build(bot_id=bot.pk)
    bot_definition_changed(bot_id=bot.pk)  # a new fallback message, say
    with mock.patch.object(classifier, "train", side_effect=AssertionError("retrained")):
        row = intent_models.intent_model_build(bot_id=bot.pk)
    bot.refresh_from_db()
    assert row.status == "ready" and row.version == bot.version


def test_a_stale_build_is_skipped(bot):
    intent_models.intent_model_build(bot_id=bot.pk)
    bot.refresh_from_db()
    assert intent_models.intent_model_build(bot_id=bot.pk, version=bot.version - 1) is None


def test_a_lost_build_is_queued_again_once_stale(bot):
    from datetime import timedelta

    from django.utils import timezone

    BotIntentModel.objects.create(bot=bot, version=bot.version, status="building")
    with mock.patch("bots.tasks.build_intent_model.delay") as queued:
        intent_models.intent_model_requested(bot_id=bot.pk, version=bot.version)
        queued.assert_not_called()  # still building
        BotIntentModel.objects.update(updated_at=timezone.now() - timedelta(hours=1))
        intent_models.intent_model_requested(bot_id=bot.pk, version=bot.version)
    queued.assert_called_once_with(str(bot.pk), bot.version)
    assert intent_models.intent_model_build(bot_id=bot.pk, version=bot.version).status == "ready"
