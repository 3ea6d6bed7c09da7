"""An Einstein session's state (einstein.EinsteinSession) goes with its conversation, whichever way the
conversation goes: the ORM, the prune, the purge of a deleted bot or owner. A deleted contact's
conversations stay, and so does their state."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from bots.tests.factories import BotFactory
from sessions_app.models import Conversation
from sessions_app.protocols.einstein.models import EinsteinSession
from sessions_app.services import deletions, lifecycle
from sessions_app.tests.factories import ContactFactory, ConversationFactory, MessageFactory

pytestmark = pytest.mark.django_db


def einstein_conversation(**fields):
    conversation = ConversationFactory(origin="einstein", **fields)
    MessageFactory(conversation=conversation)
    EinsteinSession.objects.create(conversation=conversation, last_sequence_id=3, last_response={"messages": []})
    return conversation


def test_the_prune_deletes_the_state_with_its_conversation(settings):
    settings.BOTPORTAL = {**settings.BOTPORTAL, "CONVERSATION_RETENTION": 30 * 86400, "PRUNE_BATCH_SIZE": 2}
    now = timezone.now()
    old = [einstein_conversation(last_activity_at=now - timedelta(days=31)) for _ in range(3)]
    kept = einstein_conversation(last_activity_at=now)

    run = lifecycle.conversations_prune(now=now)

    # The state is not one of the counts the prune reports: those stay what they were.
    assert run.counts == {"conversations_deleted": 3, "messages_deleted": 3, "sessions_deleted": 0}
    assert not EinsteinSession.objects.filter(pk__in=[c.pk for c in old]).exists()
    assert list(EinsteinSession.objects.values_list("pk", flat=True)) == [kept.pk]


def test_the_purge_of_a_deleted_bot_or_owner_deletes_the_state(settings):
    settings.BOTPORTAL = {**settings.BOTPORTAL, "PRUNE_BATCH_SIZE": 2}
    bot, other = BotFactory(), BotFactory()
    for _ in range(3):  # more than a batch: the purge runs in batches, in the background
        einstein_conversation(bot=bot, owner=bot.owner)
    owned = einstein_conversation(bot=other, owner=other.owner)
    kept = einstein_conversation()

    deletions.bot_delete(bot=bot)
    lifecycle.deleted_purge()
    assert not Conversation.all_objects.filter(bot_id=bot.pk).exists()
    assert set(EinsteinSession.objects.values_list("pk", flat=True)) == {owned.pk, kept.pk}

    deletions.owner_delete(owner=other.owner)
    lifecycle.deleted_purge()
    assert list(EinsteinSession.objects.values_list("pk", flat=True)) == [kept.pk]


def test_a_deleted_contacts_conversations_keep_their_state(settings):
    contact = ContactFactory()
    conversation = einstein_conversation(owner=contact.owner, contact=contact)
    deletions.contact_delete(contact=contact)
    lifecycle.deleted_purge()
    assert Conversation.all_objects.get(pk=conversation.pk).contact_id is None
    assert EinsteinSession.objects.get(pk=conversation.pk).last_sequence_id == 3


def test_the_orm_deletes_the_state_with_its_conversation():
    conversation = einstein_conversation()
    conversation.delete()
    assert not EinsteinSession.objects.exists()


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the cascade in the database is PostgreSQL's")
def test_every_table_whose_rows_go_with_a_conversation_cascades_in_postgresql():
    # The prune's and the purge's plain-SQL deletes leave every such table to the database: a table of
    # a new protocol whose migration forgot the cascade would make them fail.
    cascading = {
        rel.related_model._meta.db_table
        for rel in Conversation._meta.related_objects
        if rel.on_delete.__name__ == "CASCADE"
    }
    assert {"einstein_einsteinsession", "directline_directlineconversation"} <= cascading
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conrelid::regclass::text, confdeltype FROM pg_constraint"
            " WHERE contype = 'f' AND confrelid = 'sessions_app_conversation'::regclass"
        )
        actions = dict(cursor.fetchall())
    assert {table: actions.get(table) for table in cascading} == dict.fromkeys(cascading, "c")
