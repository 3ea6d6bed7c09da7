"""botportal.rows' INSERTs store and hand back exactly what Django's create() and bulk_create() do."""

import pytest
from django.db import IntegrityError, transaction
from django.db.models import signals
from django.utils import timezone

from botportal.rows import row_insert, rows_insert
from sessions_app.models import BotSession, Conversation, Message, MessageType
from sessions_app.tests.factories import ConversationFactory
from tests.model_fields import field_values

pytestmark = pytest.mark.django_db


def _stored(instance):
    return field_values(type(instance).all_objects.get(pk=instance.pk))


def test_a_conversation_is_inserted_as_create_inserts_it(bot):
    mine = row_insert(Conversation(owner=bot.owner, bot=bot, meta={"a": [1, None]}, variables={"x": "y"}))
    theirs = Conversation.objects.create(owner=bot.owner, bot=bot, meta={"a": [1, None]}, variables={"x": "y"})

    assert mine._state.adding is False and mine._state.db == "default"
    assert field_values(mine) == _stored(mine)
    # Every column as create() leaves it, but for the keys and the times of the call.
    different = {"id", "created_at", "updated_at", "last_activity_at"}
    assert {k: v for k, v in _stored(mine).items() if k not in different} == {
        k: v for k, v in _stored(theirs).items() if k not in different
    }
    assert mine.turn_ticket == mine.turn_served == 0 and mine.updated_at is not None  # auto_now applied


def test_a_session_gets_its_key_from_the_insert():
    conversation = ConversationFactory()
    now = timezone.now()
    before = BotSession.objects.create(conversation=conversation, token_digest="a" * 64, duration_seconds=60,
                                       expires_at=now)
    mine = row_insert(BotSession(conversation=conversation, token_digest="b" * 64, duration_seconds=60, expires_at=now))

    assert mine.pk is not None and mine.pk > before.pk
    assert field_values(mine) == _stored(mine)
    assert mine.conversation is conversation  # the related object stays cached, as after create()


def test_messages_are_inserted_in_order_with_their_keys_as_bulk_create_gives_them():
    conversation = ConversationFactory()
    rows = [Message(conversation=conversation, type=MessageType.USER, text=f"m{i}", meta={"i": i}) for i in range(3)]

    stored = rows_insert(rows)

    assert stored == rows and all(m._state.adding is False for m in rows)
    keys = [m.pk for m in rows]
    assert keys == sorted(keys) and None not in keys
    assert list(Message.objects.filter(conversation=conversation).order_by("id").values_list("text", flat=True)) == [
        "m0", "m1", "m2"
    ]
    assert [field_values(m) for m in rows] == [_stored(m) for m in rows]
    assert rows_insert([]) == []


def test_a_duplicate_fails_as_djangos_insert_does_and_spoils_the_transaction():
    conversation = ConversationFactory()
    row_insert(BotSession(conversation=conversation, token_digest="c" * 64, duration_seconds=60,
                          expires_at=timezone.now()))
    with pytest.raises(IntegrityError), transaction.atomic():
        row_insert(BotSession(conversation=conversation, token_digest="c" * 64, duration_seconds=60,
                              expires_at=timezone.now()))


def test_a_model_with_save_receivers_is_saved_by_django(bot):
    seen = []

    def receiver(sender, instance, created, **kwargs):
        seen.append((instance.pk, created))

    signals.post_save.connect(receiver, sender=Conversation)
    try:
        conversation = row_insert(Conversation(owner=bot.owner, bot=bot))
    finally:
        signals.post_save.disconnect(receiver, sender=Conversation)
    assert seen == [(conversation.pk, True)]
