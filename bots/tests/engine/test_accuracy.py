import json
from pathlib import Path

import pytest

from bots.engine import Turn, respond
from bots.services.bot_definitions import bot_import

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


@pytest.mark.parametrize(
    ("text", "source"),
    [
        ("do gift cards expire?", "https://shop.example.com/help/gift-cards"),
        ("how do I reset my password", "https://shop.example.com/help/password"),
        ("when are your stores open on sunday", "https://shop.example.com/help/stores"),
    ],
)
def test_faq_questions_are_answered_from_the_dataset(owner, text, source):
    bot = bot_import(owner=owner, document=json.loads((ROOT / "examples" / "order-assistant.json").read_text()))
    reply = respond(Turn(bot=bot, variables={}, state={}, text=text))
    assert reply.messages[-1] == {"type": "link", "text": reply.messages[-1]["text"], "url": source}


def test_an_intent_still_wins_over_a_record_that_shares_a_word(owner):
    bot = bot_import(owner=owner, document=json.loads((ROOT / "examples" / "order-assistant.json").read_text()))
    reply = respond(Turn(bot=bot, variables={}, state={}, text="can I pay with a gift card"))
    assert reply.intents[0].label == "payment_methods"
    assert reply.messages[0]["text"].startswith("We accept")
