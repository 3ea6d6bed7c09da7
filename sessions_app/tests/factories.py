from datetime import timedelta

import factory
from django.utils import timezone

from bots.tests.factories import BotFactory, UserFactory
from sessions_app.access import credentials
from sessions_app.models import BotSession, Contact, Conversation, Message


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    owner = factory.SubFactory(UserFactory)
    fingerprint = factory.Sequence(lambda n: f"contact-{n}")
    name = factory.Sequence(lambda n: f"Contact {n}")


class ConversationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Conversation

    bot = factory.SubFactory(BotFactory)
    owner = factory.SelfAttribute("bot.owner")
    bot_version = factory.SelfAttribute("bot.version")


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    conversation = factory.SubFactory(ConversationFactory)
    type = "user"
    text = factory.Sequence(lambda n: f"message {n}")


class BotSessionFactory(factory.django.DjangoModelFactory):
    """A session row. Use `with_token()` when the test needs the plain token, which is never stored."""

    class Meta:
        model = BotSession

    conversation = factory.SubFactory(ConversationFactory)
    token_digest = factory.LazyFunction(lambda: credentials.digest(credentials.new_session_token()))
    duration_seconds = 3600
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(hours=1))

    @classmethod
    def with_token(cls, **kwargs) -> tuple[BotSession, str]:
        token = credentials.new_session_token()
        return cls(token_digest=credentials.digest(token), **kwargs), token
