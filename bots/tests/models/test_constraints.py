import pytest
from django.db import IntegrityError

from bots.tests.factories import BotFactory, IntentFactory
from sessions_app.tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def test_intent_labels_are_unique_per_bot():
    bot = BotFactory()
    IntentFactory(bot=bot, label="greeting")
    IntentFactory(label="greeting")  # another bot: fine
    with pytest.raises(IntegrityError):
        IntentFactory(bot=bot, label="greeting")


def test_contact_email_is_unique_per_owner_but_blank_is_not(owner, other_owner):
    ContactFactory(owner=owner, email="a@example.com")
    ContactFactory(owner=other_owner, email="a@example.com")
    ContactFactory(owner=owner, email="")
    ContactFactory(owner=owner, email="")
    with pytest.raises(IntegrityError):
        ContactFactory(owner=owner, email="a@example.com")
