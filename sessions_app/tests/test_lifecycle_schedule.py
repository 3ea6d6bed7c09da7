"""The beat entries and the database cascade that migrations set up."""

import pytest
from django.db import connection
from django_celery_beat.models import PeriodicTask

from botportal.celery import app as celery_app
from sessions_app import tasks
from sessions_app.tests.factories import BotSessionFactory, MessageFactory

pytestmark = pytest.mark.django_db

LIFECYCLE_TASKS = {
    tasks.EXPIRE_SESSIONS_TASK,
    tasks.END_IDLE_CONVERSATIONS_TASK,
    tasks.PRUNE_SESSIONS_TASK,
    tasks.PRUNE_CONVERSATIONS_TASK,
}


def test_migrations_schedule_every_lifecycle_task():
    entries = PeriodicTask.objects.filter(task__in=LIFECYCLE_TASKS, enabled=True).select_related("interval")
    assert {entry.task for entry in entries} == LIFECYCLE_TASKS
    for entry in entries:
        assert entry.interval is not None and entry.interval.every > 0
        # A run queued longer than its interval is dropped rather than piling up behind a stopped worker.
        assert entry.expire_seconds == entry.interval.every
        assert entry.task in celery_app.tasks


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the database cascade is PostgreSQL's")
def test_deleting_a_conversation_in_sql_cascades_to_messages_and_sessions():
    message = MessageFactory()
    session = BotSessionFactory(conversation=message.conversation)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conrelid::regclass::text, confdeltype FROM pg_constraint "
            "WHERE contype = 'f' AND confrelid = 'sessions_app_conversation'::regclass "
            "AND conrelid IN ('sessions_app_message'::regclass, 'sessions_app_botsession'::regclass)"
        )
        assert sorted(cursor.fetchall()) == [("sessions_app_botsession", "c"), ("sessions_app_message", "c")]
        cursor.execute("DELETE FROM sessions_app_conversation WHERE id = %s", [message.conversation_id])
        cursor.execute("SELECT count(*) FROM sessions_app_message WHERE id = %s", [message.pk])
        assert cursor.fetchone()[0] == 0
        cursor.execute("SELECT count(*) FROM sessions_app_botsession WHERE id = %s", [session.pk])
        assert cursor.fetchone()[0] == 0


def test_every_relation_to_conversation_is_one_the_prune_removes():
    # The prune deletes conversations in SQL and removes these children: by the database's cascade on
    # PostgreSQL (sessions_app 0003, einstein 0002, directline 0004: a new model pointing at Conversation needs such a
    # migration, which sessions_app/tests/deletions/test_einstein_state.py checks for every CASCADE
    # relation), explicitly on SQLite (every CASCADE relation, counted or not). Another on_delete
    # would need the prune to handle it.
    from django.db import models

    from sessions_app.models import Conversation

    relations = {
        (rel.related_model._meta.label, rel.field.column, rel.on_delete)
        for rel in Conversation._meta.related_objects
        if not rel.many_to_many
    }
    assert relations == {
        ("sessions_app.Message", "conversation_id", models.CASCADE),
        ("sessions_app.BotSession", "conversation_id", models.CASCADE),
        ("einstein.EinsteinSession", "conversation_id", models.CASCADE),
        ("directline.DirectLineConversation", "conversation_id", models.CASCADE),
    }
