import json

from django.urls import reverse

from bots.models import Bot, Intent
from bots.tests.factories import IntentFactory, UtteranceFactory, VariableFactory, bot_admin_form


def intent_forms(*intents, initial=0):
    data = {"intents-TOTAL_FORMS": str(len(intents)), "intents-INITIAL_FORMS": str(initial)}
    for n, intent in enumerate(intents):
        for key, value in intent.items():
            data[f"intents-{n}-{key}"] = value
    return data


def test_owner_creates_a_bot_with_intents_and_their_utterances(owner, login_client):
    client = login_client(owner)
    response = client.post(
        reverse("admin:bots_bot_add"),
        bot_admin_form(
            **intent_forms(
                {
                    "label": "hours",
                    "utterances_text": "When are you open?\nopening hours\n\nopening hours",
                    "responses": json.dumps([{"type": "text", "text": "We are open 9 to 5."}]),
                },
                {"label": "bye", "utterances_text": "goodbye", "responses": '[{"type": "end"}]'},
            )
        ),
    )
    assert response.status_code == 302, response.context and [
        f.errors for f in response.context["inline_admin_formsets"][1].formset.forms
    ]
    bot = Bot.objects.get(name="Helpdesk")
    assert bot.owner == owner and bot.visibility == "public"
    hours = bot.intents.get(label="hours")
    assert sorted(u.text for u in hours.utterances.all()) == ["When are you open?", "opening hours"]
    assert hours.responses == [{"type": "text", "text": "We are open 9 to 5."}]
    assert [u.text for u in bot.intents.get(label="bye").utterances.all()] == ["goodbye"]


def test_intent_responses_must_be_a_list_of_typed_messages(owner, login_client):
    response = login_client(owner).post(
        reverse("admin:bots_bot_add"),
        bot_admin_form(**intent_forms({"label": "hours", "utterances_text": "", "responses": '{"text": "hi"}'})),
    )
    assert response.status_code == 200
    assert not Bot.objects.exists() and not Intent.objects.exists()


def test_editing_an_intent_rewrites_its_utterances(owner, bot, login_client):
    intent = IntentFactory(bot=bot, label="hours")
    UtteranceFactory(intent=intent, text="old phrase")
    client = login_client(owner)
    page = client.get(reverse("admin:bots_bot_change", args=[bot.pk]))
    assert "old phrase" in page.content.decode()
    response = client.post(
        reverse("admin:bots_bot_change", args=[bot.pk]),
        bot_admin_form(
            name=bot.name,
            **intent_forms(
                {
                    "id": intent.pk,
                    "bot": bot.pk,
                    "label": "hours",
                    "utterances_text": "new phrase",
                    "responses": json.dumps(intent.responses),
                },
                initial=1,
            ),
        ),
    )
    assert response.status_code == 302
    assert [u.text for u in intent.utterances.all()] == ["new phrase"]


def test_required_variables_offer_only_this_bots_variables(owner, bot, login_client):
    from bots.tests.factories import BotFactory

    mine = VariableFactory(bot=bot, name="email")
    VariableFactory(bot=BotFactory(owner=owner), name="elsewhere")
    IntentFactory(bot=bot)
    response = login_client(owner).get(reverse("admin:bots_bot_change", args=[bot.pk]))
    formset = next(f for f in response.context["inline_admin_formsets"] if f.formset.model is Intent).formset
    assert list(formset.forms[0].fields["required_variables"].queryset) == [mine]


def test_one_save_is_one_version_and_builds_its_model_in_the_request(
    owner, bot, login_client, django_capture_on_commit_callbacks
):
    from bots.models import BotIntentModel

    intent = IntentFactory(bot=bot, label="hours")
    UtteranceFactory(intent=intent, text="old phrase")
    bot.refresh_from_db()
    before = bot.version
    with django_capture_on_commit_callbacks(execute=True):
        response = login_client(owner).post(
            reverse("admin:bots_bot_change", args=[bot.pk]),
            bot_admin_form(
                name=bot.name,
                **intent_forms(
                    {
                        "id": intent.pk,
                        "bot": bot.pk,
                        "label": "hours",
                        "utterances_text": "when are you open\nopening hours\nare you open on sunday",
                        "responses": json.dumps(intent.responses),
                    },
                    {"label": "bye", "utterances_text": "goodbye\nbye\nsee you", "responses": '[{"type": "end"}]'},
                    initial=1,
                ),
            ),
        )
    assert response.status_code == 302
    bot.refresh_from_db()
    assert bot.version == before + 1  # not once per intent and utterance written
    model = BotIntentModel.objects.get(bot=bot, version=bot.version)
    assert model.status == "ready" and model.utterance_count == 6
