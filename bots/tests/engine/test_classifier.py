from unittest import mock

import numpy as np
import pytest
from scipy import sparse

from bots.engine import classifier
from bots.engine.classifier import IntentModel, model_for, train
from bots.models import BotIntentModel
from bots.services.intent_models import intent_model_build
from bots.tests.factories import IntentFactory, UtteranceFactory

EXAMPLES = [
    ("order", "where is my order"),
    ("order", "track my parcel"),
    ("order", "has my package shipped"),
    ("refund", "where is my refund"),
    ("refund", "when do I get my money back"),
    ("refund", "refund status please"),
]


def test_exact_match_and_scores():
    model = train(EXAMPLES)
    assert model.predict("Where is my ORDER?")[0] == classifier.Prediction("order", 1.0, "DIRECT")
    predictions = model.predict("can you track the parcel I ordered")
    assert predictions[0].label == "order" and predictions[0].source == "CORE_NLP"
    assert 0 <= predictions[-1].confidence <= predictions[0].confidence <= 1
    assert model.predict("") == []


def test_out_of_domain_text_gets_low_confidence():
    model = train(EXAMPLES)
    assert all(p.confidence < 0.5 for p in model.predict("xqzv plorb"))


def test_a_model_without_utterances_predicts_nothing():
    assert train([]).predict("hello") == []


def test_a_single_intent_still_gets_a_calibrated_score():
    model = train([("hello", "hello there"), ("hello", "hi")])
    predictions = model.predict("hello friend")
    assert [p.label for p in predictions] == ["hello"]
    assert 0 <= predictions[0].confidence <= 1


def test_the_hand_written_vector_is_the_vectorizers():
    # Serving computes the features without scikit-learn; they must be exactly what training saw.
    texts = [text for _, text in EXAMPLES] + ["  Tracking   numbers: 12 parcels, don't!", "a b c"]
    union = classifier._union().fit(texts)
    model = train(EXAMPLES)
    model.vocabularies = [{t: int(i) for t, i in v.vocabulary_.items()} for _, v in union.transformer_list]
    model.idfs = [v.idf_ for _, v in union.transformer_list]
    expected = union.transform(texts).toarray()
    for row, text in zip(expected, texts, strict=True):
        indices, values = model.vector(text)
        got = sparse.csr_matrix((values, indices, [0, len(indices)]), shape=(1, expected.shape[1])).toarray()[0]
        assert np.allclose(got, row, atol=1e-6), text


def test_stored_bytes_load_without_pickle_and_predict_the_same():
    model = train(EXAMPLES)
    copy = IntentModel.from_bytes(model.to_bytes())
    assert copy.predict("track the refund") == model.predict("track the refund")
    with mock.patch("numpy.load", wraps=np.load) as load:
        IntentModel.from_bytes(model.to_bytes())
    assert load.call_args.kwargs["allow_pickle"] is False


@pytest.mark.django_db
def test_a_model_built_once_is_read_by_every_process(bot):
    UtteranceFactory(intent=IntentFactory(bot=bot, label="greet"), text="hello")
    bot.refresh_from_db()
    intent_model_build(bot_id=bot.pk)
    first = model_for(bot)
    classifier._cache.clear()  # as in a fresh process: only the database has it
    with mock.patch.object(classifier, "train", side_effect=AssertionError("trained in a turn")):
        again = model_for(bot)
    assert again is not first and again.predict("hello") == first.predict("hello")
    assert BotIntentModel.objects.get(bot=bot, version=bot.version).status == "ready"


@pytest.mark.django_db
def test_a_turn_never_trains_the_previous_version_answers_meanwhile(bot, settings):
    from botportal.celery import app

    greet = IntentFactory(bot=bot, label="greet")
    for text in ("hello there", "good morning", "hi friend"):
        UtteranceFactory(intent=greet, text=text)
    refund = IntentFactory(bot=bot, label="refund")
    for text in ("where is my refund", "money back please", "refund status"):
        UtteranceFactory(intent=refund, text=text)
    bot.refresh_from_db()
    intent_model_build(bot_id=bot.pk)
    UtteranceFactory(intent=refund, text="I was charged twice")  # a new version, its model not built yet
    bot.refresh_from_db()
    app.conf.task_always_eager = False  # as in production: the build is queued for the worker
    with (
        mock.patch.object(classifier, "train", side_effect=AssertionError("trained in a turn")),
        mock.patch("bots.tasks.build_intent_model.delay") as queued,
    ):
        assert model_for(bot).predict("good morning to you")[0].label == "greet"  # the previous model
        assert model_for(bot).predict("I was charged twice") == [classifier.Prediction("refund", 1.0, "DIRECT")]
    queued.assert_called_once_with(str(bot.pk), bot.version)
    intent_model_build(bot_id=bot.pk, version=bot.version)  # the worker's build
    classifier._pending.clear()
    assert model_for(bot) is model_for(bot)
    assert BotIntentModel.objects.filter(bot=bot).count() == 1  # the previous version's model is gone
