import factory
from django.contrib.auth import get_user_model

from bots.models import Ability, Bot, Dataset, DatasetRecord, Intent, Skillset, Utterance, Variable


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"owner{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    is_staff = True
    password = factory.django.Password("correct horse battery staple")


class DatasetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Dataset

    owner = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"Dataset {n}")


class DatasetRecordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DatasetRecord

    dataset = factory.SubFactory(DatasetFactory)
    text = factory.Sequence(lambda n: f"Record number {n}")


class SkillsetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Skillset

    owner = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"Skillset {n}")


class AbilityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Ability

    skillset = factory.SubFactory(SkillsetFactory)
    name = factory.Sequence(lambda n: f"Ability {n}")
    instruction = "Do the thing."


class BotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Bot

    owner = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"Bot {n}")
    visibility = "private"
    fallback_message = "Sorry, I didn't understand that."


class VariableFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Variable

    bot = factory.SubFactory(BotFactory)
    name = factory.Sequence(lambda n: f"variable{n}")


class IntentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Intent

    bot = factory.SubFactory(BotFactory)
    label = factory.Sequence(lambda n: f"intent_{n}")
    responses = factory.LazyAttribute(lambda i: [{"type": "text", "text": f"Answer for {i.label}"}])


class UtteranceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Utterance

    intent = factory.SubFactory(IntentFactory)
    text = factory.Sequence(lambda n: f"utterance {n}")


def bot_admin_form(**overrides) -> dict:
    """A valid POST of the bot admin's add/change form, with empty inlines; `overrides` replace fields."""
    data = {
        "name": "Helpdesk",
        "description": "",
        "visibility": "public",
        "welcome_messages": "[]",
        "fallback_message": "Sorry?",
        "confidence_threshold": "0.5",
        "backstory": "",
        "model": "",
        "dataset": "",
        "skillset": "",
        "allowed_origins": "[]",
        "conversation_retention_days": "",
        "meta": "{}",
        # What the browser sends back for fields with callable defaults (Django's show_hidden_initial).
        "initial-welcome_messages": "[]",
        "initial-allowed_origins": "[]",
        "initial-meta": "{}",
    }
    for prefix in ("variables", "intents", "entity_types"):
        data.update(
            {
                f"{prefix}-TOTAL_FORMS": "0",
                f"{prefix}-INITIAL_FORMS": "0",
                f"{prefix}-MIN_NUM_FORMS": "0",
                f"{prefix}-MAX_NUM_FORMS": "1000",
            }
        )
    data.update(overrides)
    return data
