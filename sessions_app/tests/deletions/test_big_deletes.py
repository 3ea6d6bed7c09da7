"""Deleting objects with more children than PostgreSQL's 65,535 bind parameters.

Django's delete collector sends one `IN` list per relation, and with server-side prepared statements
(on by default, DATABASE_PREPARED_STATEMENTS) PostgreSQL refuses a statement with more parameters
than that: a 500 before the deletion services. SQLite's backend splits such lists itself.
"""

from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.urls import reverse

from bots.models import Bot
from bots.tests.factories import BotFactory
from sessions_app import tasks
from sessions_app.models import Contact, Conversation, Message
from sessions_app.tests.apis.helpers import post
from sessions_app.tests.factories import ContactFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the parameter limit is PostgreSQL's"),
]

ROWS = 70_000


def insert_conversations(*, owner, bot=None, contact=None, rows=ROWS):
    """ROWS conversations with one message each, in two INSERT ... SELECT statements."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO sessions_app_conversation (id, owner_id, bot_id, contact_id, bot_version, name, description,
                meta, origin, variables, engine_state, timezone, created_at, updated_at,
                last_activity_at, end_reason)
            SELECT gen_random_uuid(), %s, %s, %s, 1, '', '', '{}', 'chatbotkit', '{}', '{}', 'UTC',
                now() - g * interval '1 second', now(), now(), ''
            FROM generate_series(1, %s) g
            """,
            [owner.pk, bot.pk if bot else None, contact.pk if contact else None, rows],
        )
        cursor.execute(
            """
            INSERT INTO sessions_app_message (conversation_id, type, text, name, description, meta, created_at,
                updated_at)
            SELECT id, 'user', 'hi', '', '', '{}', now(), now() FROM sessions_app_conversation
            WHERE owner_id = %s AND bot_id IS NOT DISTINCT FROM %s
            """,
            [owner.pk, bot.pk if bot else None],
        )


def test_bot_and_contact_with_70000_conversations(
    owner, owner_client, login_client, django_capture_on_commit_callbacks
):
    assert connection.settings_dict["OPTIONS"].get("server_side_binding")  # the default, which binds every parameter
    bot = BotFactory(owner=owner)
    contact = ContactFactory(owner=owner)
    kept_bot = BotFactory(owner=owner)
    insert_conversations(owner=owner, bot=bot)
    insert_conversations(owner=owner, bot=kept_bot, contact=contact)

    # The admin's confirmation page no longer collects every row to list them.
    assert login_client(owner).get(reverse("admin:bots_bot_delete", args=[bot.pk])).status_code == 200

    with mock.patch.object(tasks.purge_deleted, "delay") as queued, django_capture_on_commit_callbacks(execute=True):
        contact_response = post(owner_client, f"/api/v1/contact/{contact.pk}/delete")
        bot_response = post(owner_client, f"/api/v1/bot/{bot.pk}/delete")

    assert contact_response.status_code == 200, contact_response.content
    assert bot_response.status_code == 200, bot_response.content
    assert queued.call_count == 2
    assert not Conversation.objects.filter(bot=bot).exists() and not Contact.objects.filter(pk=contact.pk).exists()
    assert Conversation.all_objects.filter(bot=bot).count() == ROWS

    result = tasks.purge_deleted.apply().get()

    assert result["counts"]["conversations_deleted"] == ROWS and result["counts"]["messages_deleted"] == ROWS
    assert result["counts"]["conversations_detached"] == ROWS
    assert not Bot.all_objects.filter(pk=bot.pk).exists() and not Contact.all_objects.filter(pk=contact.pk).exists()
    assert not Conversation.all_objects.filter(bot_id=bot.pk).exists()
    assert Conversation.objects.filter(bot=kept_bot, contact__isnull=True).count() == ROWS
    assert Message.objects.count() == ROWS


def test_owner_with_70000_conversations_deleted_in_the_admin(
    owner, superuser, login_client, django_capture_on_commit_callbacks
):
    insert_conversations(owner=owner, bot=BotFactory(owner=owner))
    admin = login_client(superuser)

    assert admin.get(reverse("admin:auth_user_delete", args=[owner.pk])).status_code == 200
    with mock.patch.object(tasks.purge_deleted, "delay"), django_capture_on_commit_callbacks(execute=True):
        response = admin.post(reverse("admin:auth_user_delete", args=[owner.pk]), {"post": "yes"})
    assert response.status_code == 302

    tasks.purge_deleted.apply()
    assert not get_user_model().objects.filter(pk=owner.pk).exists()
    assert not Conversation.all_objects.exists() and not Message.all_objects.exists()
