import pickle
from unittest import mock

import pytest

from bots.engine import classifier
from bots.engine.classifier import IntentModel, model_for

EXAMPLES = [
    ("order", "where is my order"),
    ("order", "track my parcel"),
    ("order", "has my package shipped"),
    ("refund", "where is my refund"),
    ("refund", "when do I get my money back"),
    ("refund", "refund status please"),
]


def test_exact_match_and_scores():
    model = IntentModel(EXAMPLES)
    assert model.predict("Where is my ORDER?")[0] == classifier.Prediction("order", 1.0, "DIRECT")
    predictions = model.predict("can you track the parcel I ordered")
    assert predictions[0].label == "order" and predictions[0].source == "CORE_NLP"
    assert 0 <= predictions[-1].confidence <= predictions[0].confidence <= 1
    assert model.predict("") == []


def test_out_of_domain_text_gets_low_confidence():
    model = IntentModel(EXAMPLES)
    assert all(p.confidence < 0.5 for p in model.predict("xqzv plorb"))


def test_a_model_without_utterances_predicts_nothing():
    assert IntentModel([]).predict("hello") == []


def test_a_single_intent_still_gets_a_calibrated_score():
    model = IntentModel([("hello", "hello there"), ("hello", "hi")])
    assert model.predict("hello friend")[0].label == "hello"


def test_pickled_model_predicts_the_same():
    model = IntentModel(EXAMPLES)
    copy = pickle.loads(pickle.dumps(model))  # noqa: S301 - our own bytes
    assert copy.predict("track the refund") == model.predict("track the refund")


@pytest.mark.django_db
def test_a_model_trained_by_another_process_is_reused(bot):
    from bots.tests.factories import IntentFactory, UtteranceFactory

    UtteranceFactory(intent=IntentFactory(bot=bot, label="greet"), text="hello")
    bot.refresh_from_db()
    trained = model_for(bot)
    classifier._cache.clear()  # as in a fresh process: only the shared cache has it
    with mock.patch.object(classifier, "_examples", side_effect=AssertionError("retrained")):
        again = model_for(bot)
    assert again is not trained and again.predict("hello") == trained.predict("hello")
