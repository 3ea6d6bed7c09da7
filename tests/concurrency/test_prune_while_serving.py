"""The lifecycle prune running while sessions are opened and used, each on its own database connection.

Old data is pruned; what is created and used meanwhile is untouched; no request fails, nothing hangs.
"""

import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from bots.tests.factories import BotFactory
from sessions_app.models import BotSession, Conversation, Message
from sessions_app.services.lifecycle import (
    bot_sessions_expire,
    bot_sessions_prune,
    conversations_end_idle,
    conversations_prune,
)
from sessions_app.tests.factories import BotSessionFactory, ConversationFactory, MessageFactory
from tests.concurrency.test_parallel_requests import client, run_parallel

pytestmark = pytest.mark.django_db(transaction=True)

USERS = 6
TURNS = 3
OLD_CONVERSATIONS = 40


def lifecycle_pass(batch_size: int) -> None:
    # What Celery beat runs, in the same order; small batches so that many transactions interleave with requests.
    bot_sessions_expire(batch_size=batch_size)
    conversations_end_idle(batch_size=batch_size)
    bot_sessions_prune(batch_size=batch_size)
    conversations_prune(batch_size=batch_size)


def test_a_prune_while_sessions_are_created_and_used(owner, settings):
    settings.BOTPORTAL = {**settings.BOTPORTAL, "CONVERSATION_RETENTION": 7 * 86400, "SESSION_RETENTION": 86400}
    bot = BotFactory(owner=owner, visibility="public")
    long_ago = timezone.now() - timedelta(days=30)
    old_ids = []
    for _ in range(OLD_CONVERSATIONS):
        conversation = ConversationFactory(bot=bot, created_at=long_ago, last_activity_at=long_ago)
        MessageFactory(conversation=conversation)
        BotSessionFactory(conversation=conversation, expires_at=long_ago)
        old_ids.append(conversation.pk)
    # A conversation in use whose old, long-expired token is due for pruning: the token goes, it stays.
    kept = ConversationFactory(bot=bot)
    stale_token = BotSessionFactory(conversation=kept, expires_at=long_ago)
    users_done = threading.Event()
    finished = []

    def work(index):
        if index == 0:
            passes = 0
            while True:
                last = users_done.is_set()
                lifecycle_pass(batch_size=7)
                passes += 1
                if last:
                    return passes
        try:
            opened = client().post(f"/api/v1/bot/{bot.pk}/session/create", {}, format="json")
            assert opened.status_code == 200, opened.content
            body = opened.json()
            path = f"/api/v1/conversation/{body['conversationId']}/complete"
            statuses = [
                client(body["token"]).post(path, {"text": f"user {index} turn {turn}"}, format="json").status_code
                for turn in range(TURNS)
            ]
            return body["conversationId"], statuses
        finally:
            finished.append(index)
            if len(finished) == USERS:
                users_done.set()

    results = run_parallel(USERS + 1, work)
    assert results[0] >= 2  # the prune ran during the requests and once after them
    for conversation_id, statuses in results[1:]:
        assert statuses == [200] * TURNS
        user_texts = Message.objects.filter(conversation_id=conversation_id, type="user").values_list("text", flat=True)
        assert len(user_texts) == TURNS
        assert Message.objects.filter(conversation_id=conversation_id, type="bot").count() == TURNS
        assert BotSession.objects.filter(conversation_id=conversation_id).count() == 1
    assert not Conversation.objects.filter(pk__in=old_ids).exists()
    assert not Message.objects.filter(conversation_id__in=old_ids).exists()
    assert not BotSession.objects.filter(conversation_id__in=old_ids).exists()
    assert Conversation.objects.filter(pk=kept.pk).exists()
    assert not BotSession.objects.filter(pk=stale_token.pk).exists()
