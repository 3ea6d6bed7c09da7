import uuid

import pytest

from botportal.errors import NotFound
from bots.models import Bot
from bots.selectors import bot_get_any
from bots.tests.factories import BotFactory
from tests.model_fields import field_values

pytestmark = pytest.mark.django_db



def test_loads_the_bot_and_its_owner_as_the_orm_does():
    bot = BotFactory(
        meta={"team": "support"},
        welcome_messages=["Hi!", "How can I help?"],
        allowed_origins=["https://shop.example.com"],
        privacy=True,
        conversation_retention_days=9,
    )

    loaded = bot_get_any(bot_id=str(bot.pk))

    expected = Bot.objects.select_related("owner").get(pk=bot.pk)
    assert field_values(loaded) == field_values(expected)
    assert field_values(loaded.owner) == field_values(expected.owner)
    assert loaded.privacy is True and loaded.welcome_messages == ["Hi!", "How can I help?"]


@pytest.mark.parametrize("bot_id", ["not-a-uuid", str(uuid.uuid4()), ""])
def test_unknown_or_malformed_ids_are_not_found(bot_id):
    BotFactory()

    with pytest.raises(NotFound):
        bot_get_any(bot_id=bot_id)
