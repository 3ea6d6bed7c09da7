import json
from pathlib import Path

import pytest
from django.core.management import call_command

from botportal.errors import InvalidInput
from bots.models import Bot, Intent
from bots.services.bot_definitions import bot_export, bot_import

pytestmark = pytest.mark.django_db
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "order-assistant.json"


def example():
    return json.loads(EXAMPLE.read_text())


def test_round_trip_is_identical(owner, other_owner):
    first = bot_import(owner=owner, document=example())
    exported = bot_export(bot=first)
    second = bot_import(owner=other_owner, document=json.loads(json.dumps(exported)))
    assert bot_export(bot=second) == exported
    assert exported["intents"] and exported["dataset"]["records"] and exported["variables"]
    assert second.owner == other_owner and second.dataset.owner == other_owner


def test_round_trip_with_skillset_abilities(owner):
    document = example()
    document["skillset"] = {
        "name": "Actions",
        "description": "",
        "abilities": [
            {
                "name": "hook",
                "description": "",
                "instruction": "",
                "kind": "webhook",
                "config": {"url": "https://x.example/h"},
            }
        ],
    }
    document["intents"][0]["ability"] = 0
    bot = bot_import(owner=owner, document=document)
    assert (
        Intent.objects.get(bot=bot, label=document["intents"][0]["label"]).ability.config["url"]
        == "https://x.example/h"
    )
    exported = bot_export(bot=bot)
    assert bot_export(bot=bot_import(owner=owner, document=exported)) == exported


def test_invalid_document_names_every_problem_and_leaves_nothing(owner):
    document = example()
    document["bot"]["confidenceThreshold"] = 3
    document["variables"][0]["type"] = "colour"
    document["intents"][0]["responses"].append({"type": "choices", "choices": [{"label": "x", "intent": "nope"}]})
    document["intents"][1]["requiredVariables"] = ["missing"]
    with pytest.raises(InvalidInput) as raised:
        bot_import(owner=owner, document=document)
    assert set(raised.value.fields) >= {
        "bot.confidenceThreshold",
        "variables.0.type",
        "intents.0.responses.2.choices.0.intent",
        "intents.1.requiredVariables",
    }
    assert not Bot.objects.exists()


def test_dumpbot_and_loadbot(owner, tmp_path, capsys):
    bot = bot_import(owner=owner, document=example())
    path = tmp_path / "bot.json"
    call_command("dumpbot", str(bot.id), "--output", str(path))
    call_command("loadbot", str(path), "--owner", owner.username)
    new_id = capsys.readouterr().out.strip().splitlines()[-1]
    assert bot_export(bot=Bot.objects.get(pk=new_id)) == json.loads(path.read_text())
