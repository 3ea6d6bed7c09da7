from datetime import timedelta
from io import StringIO
from unittest import mock

import pytest
from django.core.management import call_command
from django.utils import timezone

from sessions_app.models import BotSession, Conversation, Message
from sessions_app.services.lifecycle import batches
from sessions_app.tests.factories import BotSessionFactory, ConversationFactory, MessageFactory

pytestmark = pytest.mark.django_db


def run(name, *args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(name, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def retention(settings):
    settings.BOTPORTAL = {**settings.BOTPORTAL, "CONVERSATION_RETENTION": 86400, "SESSION_RETENTION": 86400}


def test_expiresessions_marks_and_reports():
    session = BotSessionFactory(expires_at=timezone.now() - timedelta(seconds=1))
    out, _ = run("expiresessions")
    assert "expire_sessions: done: sessions_expired 1 in" in out
    session.refresh_from_db()
    assert session.expired_at is not None


def test_prunesessions_dry_run_prints_and_deletes_nothing(retention):
    BotSessionFactory(expires_at=timezone.now() - timedelta(days=2))
    out, _ = run("prunesessions", "--dry-run")
    assert "prune_sessions: would affect: sessions_deleted 1" in out
    assert BotSession.objects.count() == 1

    out, _ = run("prunesessions", "--batch-size", "1")
    assert "sessions_deleted 1" in out
    assert BotSession.objects.count() == 0


def test_pruneconversations_dry_run_then_real(retention):
    conversation = ConversationFactory(last_activity_at=timezone.now() - timedelta(days=2))
    MessageFactory(conversation=conversation)
    out, _ = run("pruneconversations", "--dry-run")
    assert "conversations_deleted 1, messages_deleted 1, sessions_deleted 0" in out
    assert Conversation.objects.count() == 1 and Message.objects.count() == 1

    run("pruneconversations")
    assert Conversation.objects.count() == 0 and Message.objects.count() == 0


def test_endidleconversations_ends_idle_ones():
    conversation = ConversationFactory(last_activity_at=timezone.now() - timedelta(days=4))
    out, _ = run("endidleconversations")
    assert "conversations_ended 1" in out
    conversation.refresh_from_db()
    assert conversation.end_reason == "Expiration"


def test_a_command_says_when_another_run_holds_the_lock():
    BotSessionFactory(expires_at=timezone.now() - timedelta(seconds=1))
    with mock.patch.object(batches, "lifecycle_lock") as lock:
        lock.return_value.__enter__.return_value = False
        out, err = run("expiresessions")
    assert "another run is in progress; nothing done" in err
    assert BotSession.objects.filter(expired_at__isnull=False).count() == 0
