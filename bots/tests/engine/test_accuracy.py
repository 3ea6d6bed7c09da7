import json
from pathlib import Path

import pytest

from bots.engine import Turn, respond
from bots.services import bot_import

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.django_db


def test_intent_accuracy_on_the_evaluation_set(owner):
    document = json.loads((ROOT / "examples" / "order-assistant.json").read_text())
    bot = bot_import(owner=owner, document=document)
    training = {u.casefold() for i in document["intents"] for u in i["utterances"]}
    rows = []
    for line in (ROOT / "bots" / "tests" / "data" / "order_assistant_eval.tsv").read_text().splitlines():
        if line and not line.startswith("#"):
            text, label = line.split("\t")
            rows.append((text, label))
    assert len(rows) >= 200
    assert not [text for text, _ in rows if text.casefold() in training], "the evaluation set must be unseen text"
    correct = 0
    for text, label in rows:
        reply = respond(Turn(bot=bot, variables={}, state={}, text=text))
        top = reply.intents[0] if reply.intents else None
        correct += top is not None and top.label == label and top.confidence >= bot.confidence_threshold
    accuracy = correct / len(rows)
    print(f"\nintent accuracy on {len(rows)} unseen utterances: {accuracy:.3f}")
    assert accuracy >= 0.85
