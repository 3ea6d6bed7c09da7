"""How a conversation with examples/order-assistant.json behaves: slots, interruptions, contacts, records."""

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from bots.engine import Turn, respond, variable_defaults
from bots.services.bot_definitions import bot_import

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(owner):
    return bot_import(owner=owner, document=json.loads((ROOT / "examples" / "order-assistant.json").read_text()))


def say(bot, text, reply=None, variables=None):
    previous = reply
    return respond(
        Turn(
            bot=bot,
            variables=previous.variables if previous else (variables or {}),
            state=previous.state if previous else {},
            text=text,
        )
    )


def test_a_dataset_record_answers_better_than_an_unsure_intent(shop):
    reply = say(shop, "do you sell gift cards?")
    assert reply.messages[-1]["url"] == "https://shop.example.com/help/gift-cards"
    reply = say(shop, "what is your warranty")
    assert reply.messages[-1]["url"] == "https://shop.example.com/help/warranty"


def test_a_confident_other_intent_interrupts_a_slot_prompt(shop):
    reply = say(shop, "where is my order 123456")
    assert reply.state["pending"]["variable"] == "email"
    reply = say(shop, "I want to return a broken lamp", reply)
    assert reply.intents[0].label == "return_item"
    assert reply.state["pending"]["intent"] == "return_item"  # the return is under way, with its own slots
    reply = say(shop, "ann@example.com", reply)
    assert reply.messages[0]["text"].startswith("I've opened a return for order 123456")


def test_the_interrupted_question_is_asked_again_after_a_quick_answer(shop):
    reply = say(shop, "where is my order 123456")
    reply = say(shop, "how long does shipping take", reply)
    assert reply.messages[0]["text"].startswith("Standard shipping takes")
    assert reply.messages[-1]["text"] == "Which email address did you order with?"
    assert reply.state["pending"] == {"intent": "order_status", "variable": "email", "attempts": 1}
    reply = say(shop, "ann@example.com", reply)
    assert reply.messages[0]["text"].startswith("Thanks! Order 123456 for ann@example.com shipped")


def test_an_answer_to_the_prompt_is_not_taken_for_an_interruption(shop):
    reply = say(shop, "where is my order 123456")
    reply = say(shop, "it's ann@example.com", reply)
    assert reply.messages[0]["text"].startswith("Thanks! Order 123456 for ann@example.com")


def test_variables_named_like_contact_fields_are_filled_from_the_contact(shop):
    contact = SimpleNamespace(name="Ann Lee", email="ann@example.com", phone="")
    variables = variable_defaults(shop, contact=contact)
    assert variables == {"email": "ann@example.com"}  # no name or phone variable in this bot
    reply = say(shop, "where is my order", variables=variables)
    assert reply.messages[-1]["text"].startswith("What is your order number?")
    reply = say(shop, "123456", reply)
    assert reply.messages[0]["text"].startswith("Thanks! Order 123456 for ann@example.com")


def test_the_definition_maps_other_variables_to_contact_fields(shop):
    shop.meta = {"contactVariables": {"deliverySpeed": "name", "unknown": "email"}}
    contact = SimpleNamespace(name="express", email="ann@example.com", phone="")
    assert variable_defaults(shop, contact=contact) == {"email": "ann@example.com", "deliverySpeed": "express"}
    assert variable_defaults(shop, contact=None) == {}
