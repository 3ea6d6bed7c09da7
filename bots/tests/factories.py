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
