"""A conversation's Direct Line state (directline.DirectLineConversation) goes with its conversation,
whichever way the conversation goes: the ORM, the prune, the purge of a deleted bot or owner (plain SQL:
the database's cascade on PostgreSQL, directline 0004; explicit deletes on SQLite). A deleted contact's
conversations stay, and so does their state."""

from datetime import timedelta

import pytest
from django.utils import timezone

from bots.tests.factories import BotFactory
from sessions_app.models import Conversation
from sessions_app.protocols.directline.models import DirectLineConversation
from sessions_app.services import deletions, lifecycle
from sessions_app.tests.factories import BotSessionFactory, ContactFactory, ConversationFactory, MessageFactory

pytestmark = pytest.mark.django_db


def directline_conversation(**fields):
    conversation = ConversationFactory(origin="directline", **fields)
    MessageFactory(conversation=conversation)
    DirectLineConversation.objects.create(
        conversation=conversation, user_id="u-1", user_name="Ann", trusted_origins=["https://shop.example"]
    )
    return conversation


def test_the_prune_deletes_the_state_with_its_conversation(settings):
    settings.BOTPORTAL = {**settings.BOTPORTAL, "CONVERSATION_RETENTION": 30 * 86400, "PRUNE_BATCH_SIZE": 2}
    now = timezone.now()
    old = [directline_conversation(last_activity_at=now - timedelta(days=31)) for _ in range(3)]
    BotSessionFactory(conversation=old[0])
    kept = directline_conversation(last_activity_at=now)

    run = lifecycle.conversations_prune(now=now)

    # The state is not one of the counts the prune reports: those stay what they were.
    assert run.counts == {"conversations_deleted": 3, "messages_deleted": 3, "sessions_deleted": 1}
    assert not DirectLineConversation.objects.filter(pk__in=[c.pk for c in old]).exists()
    assert list(DirectLineConversation.objects.values_list("pk", flat=True)) == [kept.pk]


def test_the_purge_of_a_deleted_bot_or_owner_deletes_the_state(settings):
    settings.BOTPORTAL = {**settings.BOTPORTAL, "PRUNE_BATCH_SIZE": 2}
    bot, other = BotFactory(), BotFactory()
    for _ in range(3):  # more than a batch: the purge runs in batches, in the background
        directline_conversation(bot=bot, owner=bot.owner)
    owned = directline_conversation(bot=other, owner=other.owner)
    kept = directline_conversation()

    deletions.bot_delete(bot=bot)
    lifecycle.deleted_purge()
    assert not Conversation.all_objects.filter(bot_id=bot.pk).exists()
    assert set(DirectLineConversation.objects.values_list("pk", flat=True)) == {owned.pk, kept.pk}

    deletions.owner_delete(owner=other.owner)
    lifecycle.deleted_purge()
    assert list(DirectLineConversation.objects.values_list("pk", flat=True)) == [kept.pk]


def test_a_deleted_contacts_conversations_keep_their_state():
    contact = ContactFactory()
    conversation = directline_conversation(owner=contact.owner, contact=contact)
    deletions.contact_delete(contact=contact)
    lifecycle.deleted_purge()
    assert Conversation.all_objects.get(pk=conversation.pk).contact_id is None
    assert DirectLineConversation.objects.get(pk=conversation.pk).trusted_origins == ["https://shop.example"]


def test_the_orm_deletes_the_state_with_its_conversation():
    conversation = directline_conversation()
    conversation.delete()
    assert not DirectLineConversation.objects.exists()
