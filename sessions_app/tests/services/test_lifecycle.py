import threading
import time
from datetime import timedelta
from unittest import mock

import pytest
from django.core.cache import cache
from django.db import connection, connections, transaction
from django.utils import timezone

from bots.models import Bot
from bots.tests.factories import BotFactory
from sessions_app.models import BotSession, Contact, Conversation, EndReason, Message
from sessions_app.services import lifecycle
from sessions_app.services.lifecycle import locks, policies
from sessions_app.tests.factories import (
    BotSessionFactory,
    ContactFactory,
    ConversationFactory,
    MessageFactory,
)

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)


@pytest.fixture
def now():
    return timezone.now()


@pytest.fixture
def lifecycle_settings(settings):
    settings.BOTPORTAL = {
        **settings.BOTPORTAL,
        "IDLE_TIMEOUT": 3 * 86400,
        "SESSION_RETENTION": 3 * 86400,
        "CONVERSATION_RETENTION": 30 * 86400,
        "PRUNE_BATCH_SIZE": 5000,
    }
    return settings.BOTPORTAL


def conversation_with_children(*, last_activity_at, bot=None, contact=None, messages=2, sessions=1):
    kwargs = {"bot": bot} if bot else {}
    conversation = ConversationFactory(last_activity_at=last_activity_at, contact=contact, **kwargs)
    for _ in range(messages):
        MessageFactory(conversation=conversation)
    for _ in range(sessions):
        BotSessionFactory(conversation=conversation, expires_at=last_activity_at + timedelta(hours=1))
    return conversation


class TestExpire:
    def test_marks_sessions_past_expiry_with_the_moment_they_expired(self, now):
        past = BotSessionFactory(expires_at=now - SECOND)
        inside = BotSessionFactory(expires_at=now + SECOND)

        run = lifecycle.bot_sessions_expire(now=now)

        assert run.ran and run.counts == {"sessions_expired": 1}
        past.refresh_from_db()
        inside.refresh_from_db()
        assert past.expired_at == past.expires_at
        assert inside.expired_at is None

    def test_second_run_finds_nothing_and_keeps_the_recorded_time(self, now):
        session = BotSessionFactory(expires_at=now - DAY)
        lifecycle.bot_sessions_expire(now=now)
        session.refresh_from_db()
        first = session.expired_at

        run = lifecycle.bot_sessions_expire(now=now + DAY)

        assert run.counts == {"sessions_expired": 0}
        session.refresh_from_db()
        assert session.expired_at == first

    def test_dry_run_counts_and_changes_nothing(self, now):
        BotSessionFactory(expires_at=now - SECOND)
        run = lifecycle.bot_sessions_expire(now=now, dry_run=True)
        assert run.dry_run and run.counts == {"sessions_expired": 1}
        assert BotSession.objects.filter(expired_at__isnull=False).count() == 0


class TestEndIdle:
    def test_ends_idle_conversations_and_revokes_their_tokens(self, now, lifecycle_settings):
        timeout = timedelta(seconds=lifecycle_settings["IDLE_TIMEOUT"])
        idle = conversation_with_children(last_activity_at=now - timeout - SECOND, sessions=2)
        active = conversation_with_children(last_activity_at=now - timeout + SECOND)
        BotSession.objects.filter(conversation=idle).update(expires_at=now + DAY)

        run = lifecycle.conversations_end_idle(now=now)

        assert run.counts == {"conversations_ended": 1, "sessions_revoked": 2}
        idle.refresh_from_db()
        active.refresh_from_db()
        assert idle.ended_at == now and idle.end_reason == EndReason.EXPIRATION
        assert set(idle.sessions.values_list("revoked_at", flat=True)) == {now}
        assert active.ended_at is None and active.end_reason == ""
        assert active.sessions.filter(revoked_at__isnull=False).count() == 0

    def test_already_ended_conversations_keep_their_reason(self, now, lifecycle_settings):
        ended_at = now - 10 * DAY
        conversation = ConversationFactory(
            last_activity_at=now - 10 * DAY, ended_at=ended_at, end_reason=EndReason.USER_REQUEST
        )

        run = lifecycle.conversations_end_idle(now=now)

        assert run.counts == {"conversations_ended": 0, "sessions_revoked": 0}
        conversation.refresh_from_db()
        assert conversation.end_reason == EndReason.USER_REQUEST and conversation.ended_at == ended_at

    def test_works_in_batches(self, now, lifecycle_settings):
        conversations = [conversation_with_children(last_activity_at=now - 5 * DAY) for _ in range(5)]

        run = lifecycle.conversations_end_idle(now=now, batch_size=2)

        assert run.batches == 3
        assert run.counts == {"conversations_ended": 5, "sessions_revoked": 5}
        assert Conversation.objects.filter(pk__in=[c.pk for c in conversations], ended_at=now).count() == 5


class TestPruneSessions:
    def test_deletes_only_sessions_past_retention(self, now, lifecycle_settings):
        retention = timedelta(seconds=lifecycle_settings["SESSION_RETENTION"])
        expired_old = BotSessionFactory(expires_at=now - retention - SECOND)
        expired_recent = BotSessionFactory(expires_at=now - retention + SECOND)
        revoked_old = BotSessionFactory(expires_at=now + DAY, revoked_at=now - retention - SECOND)
        revoked_recent = BotSessionFactory(expires_at=now + DAY, revoked_at=now - retention + SECOND)
        active = BotSessionFactory(expires_at=now + DAY)

        run = lifecycle.bot_sessions_prune(now=now)

        assert run.counts == {"sessions_deleted": 2}
        remaining = set(BotSession.objects.values_list("pk", flat=True))
        assert remaining == {expired_recent.pk, revoked_recent.pk, active.pk}
        assert expired_old.pk not in remaining and revoked_old.pk not in remaining
        # The conversations stay: only the token records go.
        assert Conversation.objects.count() == 5

    def test_dry_run_deletes_nothing(self, now, lifecycle_settings):
        BotSessionFactory(expires_at=now - 10 * DAY)
        run = lifecycle.bot_sessions_prune(now=now, dry_run=True)
        assert run.counts == {"sessions_deleted": 1}
        assert BotSession.objects.count() == 1


class TestPruneConversations:
    def test_deletes_conversations_past_retention_with_messages_and_sessions(self, now, lifecycle_settings):
        retention = timedelta(seconds=lifecycle_settings["CONVERSATION_RETENTION"])
        contact = ContactFactory()
        old = conversation_with_children(last_activity_at=now - retention - SECOND, contact=contact)
        kept = conversation_with_children(last_activity_at=now - retention + SECOND)

        run = lifecycle.conversations_prune(now=now)

        assert run.counts == {"conversations_deleted": 1, "messages_deleted": 2, "sessions_deleted": 1}
        assert list(Conversation.objects.values_list("pk", flat=True)) == [kept.pk]
        assert Message.objects.filter(conversation_id=old.pk).count() == 0
        assert BotSession.objects.filter(conversation_id=old.pk).count() == 0
        assert Message.objects.filter(conversation=kept).count() == 2
        assert BotSession.objects.filter(conversation=kept).count() == 1
        # The contact belongs to the owner and stays without conversations.
        assert Contact.objects.filter(pk=contact.pk).exists()

    def test_no_global_retention_keeps_everything(self, now, lifecycle_settings):
        lifecycle_settings["CONVERSATION_RETENTION"] = None
        conversation_with_children(last_activity_at=now - 3650 * DAY)
        run = lifecycle.conversations_prune(now=now)
        assert run.counts == {"conversations_deleted": 0, "messages_deleted": 0, "sessions_deleted": 0}
        assert Conversation.objects.count() == 1

    def test_bot_retention_overrides_global(self, now, lifecycle_settings):
        lifecycle_settings["CONVERSATION_RETENTION"] = None
        short = BotFactory(conversation_retention_days=2)
        long = BotFactory(conversation_retention_days=400)
        short_old = conversation_with_children(bot=short, last_activity_at=now - 2 * DAY - SECOND)
        short_kept = conversation_with_children(bot=short, last_activity_at=now - 2 * DAY + SECOND)
        long_kept = conversation_with_children(bot=long, last_activity_at=now - 399 * DAY)
        long_old = conversation_with_children(bot=long, last_activity_at=now - 400 * DAY - SECOND)
        default_kept = conversation_with_children(last_activity_at=now - 3650 * DAY)

        run = lifecycle.conversations_prune(now=now)

        assert run.counts["conversations_deleted"] == 2
        remaining = set(Conversation.objects.values_list("pk", flat=True))
        assert remaining == {short_kept.pk, long_kept.pk, default_kept.pk}
        assert short_old.pk not in remaining and long_old.pk not in remaining

    @pytest.mark.parametrize("days", [1_000_000, 0])
    def test_out_of_range_bot_retention_skips_that_bot_and_prunes_everyone_else(
        self, now, lifecycle_settings, days, caplog
    ):
        # Stored around every check (as a row written before the bound existed would be).
        odd = BotFactory()
        Bot.objects.filter(pk=odd.pk).update(conversation_retention_days=days)
        short = BotFactory(conversation_retention_days=2)
        odd_kept = conversation_with_children(bot=odd, last_activity_at=now - 3650 * DAY)
        short_old = conversation_with_children(bot=short, last_activity_at=now - 3 * DAY)
        default_old = conversation_with_children(last_activity_at=now - 31 * DAY)

        with caplog.at_level("ERROR", logger="sessions_app.services.lifecycle"):
            run = lifecycle.conversations_prune(now=now)

        assert run.counts["conversations_deleted"] == 2
        assert list(Conversation.objects.values_list("pk", flat=True)) == [odd_kept.pk]
        assert not Conversation.objects.filter(pk__in=[short_old.pk, default_old.pk]).exists()
        assert str(odd.pk) in caplog.text and f"conversation_retention_days={days}" in caplog.text

    def test_longer_bot_retention_keeps_what_global_would_delete(self, now, lifecycle_settings):
        lifecycle_settings["CONVERSATION_RETENTION"] = 86400
        patient = BotFactory(conversation_retention_days=30)
        kept = conversation_with_children(bot=patient, last_activity_at=now - 10 * DAY)
        botless = ConversationFactory(bot=None, bot_version=None, owner=patient.owner, last_activity_at=now - 2 * DAY)

        lifecycle.conversations_prune(now=now)

        assert list(Conversation.objects.values_list("pk", flat=True)) == [kept.pk]
        assert not Conversation.objects.filter(pk=botless.pk).exists()

    def test_batches_of_the_configured_size(self, now, lifecycle_settings):
        lifecycle_settings["PRUNE_BATCH_SIZE"] = 2
        for _ in range(5):
            conversation_with_children(last_activity_at=now - 31 * DAY)

        run = lifecycle.conversations_prune(now=now)

        assert run.batches == 3
        assert run.counts == {"conversations_deleted": 5, "messages_deleted": 10, "sessions_deleted": 5}
        assert Conversation.objects.count() == Message.objects.count() == BotSession.objects.count() == 0

    def test_dry_run_counts_and_deletes_nothing(self, now, lifecycle_settings):
        conversation_with_children(last_activity_at=now - 31 * DAY)
        conversation_with_children(last_activity_at=now - DAY)

        run = lifecycle.conversations_prune(now=now, dry_run=True)

        assert run.dry_run
        assert run.counts == {"conversations_deleted": 1, "messages_deleted": 2, "sessions_deleted": 1}
        assert (Conversation.objects.count(), Message.objects.count(), BotSession.objects.count()) == (2, 4, 2)

    def test_interrupted_run_then_rerun_leaves_exactly_the_right_rows(self, now, lifecycle_settings):
        lifecycle_settings["PRUNE_BATCH_SIZE"] = 2
        doomed = [conversation_with_children(last_activity_at=now - 31 * DAY) for _ in range(5)]
        kept = [conversation_with_children(last_activity_at=now - 30 * DAY + SECOND) for _ in range(3)]
        real_delete = policies._conversations_delete
        calls = []

        def crash_after_first_batch(page, order):
            calls.append(page)
            if len(calls) > 1:
                raise RuntimeError("worker killed")
            return real_delete(page, order)

        with (
            mock.patch.object(policies, "_conversations_delete", crash_after_first_batch),
            pytest.raises(RuntimeError),
        ):
            lifecycle.conversations_prune(now=now)

        # The first batch is gone for good, the second rolled back whole, the rest untouched.
        assert Conversation.objects.count() == 6
        assert Message.objects.count() == 12 and BotSession.objects.count() == 6

        run = lifecycle.conversations_prune(now=now)

        assert run.counts == {"conversations_deleted": 3, "messages_deleted": 6, "sessions_deleted": 3}
        assert set(Conversation.objects.values_list("pk", flat=True)) == {c.pk for c in kept}
        assert set(Message.objects.values_list("conversation_id", flat=True)) == {c.pk for c in kept}
        assert set(BotSession.objects.values_list("conversation_id", flat=True)) == {c.pk for c in kept}
        assert not Conversation.objects.filter(pk__in=[c.pk for c in doomed]).exists()

    def test_a_conversation_active_again_before_its_batch_is_chosen_stays(self, now, lifecycle_settings):
        revived = conversation_with_children(last_activity_at=now - 31 * DAY)
        doomed = conversation_with_children(last_activity_at=now - 32 * DAY)
        real_delete = policies._conversations_delete

        def message_arrives_meanwhile(page, order):
            Conversation.objects.filter(pk=revived.pk).update(last_activity_at=timezone.now())
            return real_delete(page, order)

        with mock.patch.object(policies, "_conversations_delete", message_arrives_meanwhile):
            run = lifecycle.conversations_prune(now=now)

        assert run.counts == {"conversations_deleted": 1, "messages_deleted": 2, "sessions_deleted": 1}
        assert list(Conversation.objects.values_list("pk", flat=True)) == [revived.pk]
        assert Message.objects.filter(conversation=revived).count() == 2
        assert not Message.objects.filter(conversation_id=doomed.pk).exists()

    @pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite runs one writer at a time")
    @pytest.mark.django_db(transaction=True)
    def test_a_message_committed_while_the_batch_is_deleted_keeps_its_conversation(self, now, lifecycle_settings):
        revived = conversation_with_children(last_activity_at=now - 31 * DAY)
        doomed = conversation_with_children(last_activity_at=now - 32 * DAY)
        locked, release = threading.Event(), threading.Event()

        def message_arrives():
            # A request's transaction: the conversation's row is locked and its last activity moved on.
            try:
                with transaction.atomic():
                    Conversation.objects.filter(pk=revived.pk).update(last_activity_at=timezone.now())
                    locked.set()
                    release.wait(10)
            finally:
                connections.close_all()

        writer = threading.Thread(target=message_arrives)
        writer.start()
        assert locked.wait(10)
        results = []

        def prune():
            try:
                results.append(lifecycle.conversations_prune(now=now))
            finally:
                connections.close_all()

        pruning = threading.Thread(target=prune)
        with connection.cursor() as cursor:
            pruning.start()
            # Commit only once the prune has chosen the old row and waits for its lock.
            for _ in range(200):
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
                if cursor.fetchone()[0]:
                    break
                time.sleep(0.05)
            else:
                pytest.fail("the prune never waited for the locked conversation")
        release.set()
        writer.join(10)
        pruning.join(10)

        assert results[0].counts == {"conversations_deleted": 1, "messages_deleted": 2, "sessions_deleted": 1}
        assert list(Conversation.objects.values_list("pk", flat=True)) == [revived.pk]
        assert Message.objects.filter(conversation=revived).count() == 2
        assert not Conversation.objects.filter(pk=doomed.pk).exists()

    def test_rows_one_second_inside_every_retention_survive_every_task(self, now, lifecycle_settings):
        idle = timedelta(seconds=lifecycle_settings["IDLE_TIMEOUT"])
        session_retention = timedelta(seconds=lifecycle_settings["SESSION_RETENTION"])
        conversation_retention = timedelta(seconds=lifecycle_settings["CONVERSATION_RETENTION"])
        bot = BotFactory(conversation_retention_days=5)
        open_conversation = conversation_with_children(last_activity_at=now - idle + SECOND, sessions=0)
        session = BotSessionFactory(conversation=open_conversation, expires_at=now - session_retention + SECOND)
        revoked = BotSessionFactory(
            conversation=open_conversation, expires_at=now + DAY, revoked_at=now - session_retention + SECOND
        )
        old_but_kept = conversation_with_children(last_activity_at=now - conversation_retention + SECOND, sessions=0)
        bot_kept = conversation_with_children(bot=bot, last_activity_at=now - 5 * DAY + SECOND, sessions=0)
        before = (Conversation.objects.count(), Message.objects.count(), BotSession.objects.count())

        lifecycle.bot_sessions_expire(now=now)
        lifecycle.conversations_end_idle(now=now)
        lifecycle.bot_sessions_prune(now=now)
        lifecycle.conversations_prune(now=now)

        assert (Conversation.objects.count(), Message.objects.count(), BotSession.objects.count()) == before
        assert BotSession.objects.filter(pk__in=[session.pk, revoked.pk]).count() == 2
        open_conversation.refresh_from_db()
        assert open_conversation.ended_at is None
        assert Conversation.objects.filter(pk__in=[old_but_kept.pk, bot_kept.pk]).count() == 2


class TestLocking:
    def hold_lock(self, name):
        """Hold the lock from another thread (another database connection), as a second worker would."""
        held, release = threading.Event(), threading.Event()

        def holder():
            try:
                with lifecycle.lifecycle_lock(name=name) as acquired:
                    assert acquired
                    held.set()
                    release.wait(10)
            finally:
                connections.close_all()

        thread = threading.Thread(target=holder)
        thread.start()
        assert held.wait(10)
        return release, thread

    def test_second_run_does_nothing_and_says_so(self, now, lifecycle_settings, caplog):
        session = BotSessionFactory(expires_at=now - 10 * DAY)
        release, thread = self.hold_lock(lifecycle.PRUNE_SESSIONS)
        try:
            with caplog.at_level("INFO", logger="sessions_app.services.lifecycle"):
                run = lifecycle.bot_sessions_prune(now=now)
        finally:
            release.set()
            thread.join()

        assert run.ran is False and run.counts == {}
        assert "another run is in progress" in caplog.text
        assert BotSession.objects.filter(pk=session.pk).exists()
        # Other tasks have their own locks.
        assert lifecycle.bot_sessions_expire(now=now).ran

        # Once released, the next run does the work.
        assert lifecycle.bot_sessions_prune(now=now).counts == {"sessions_deleted": 1}

    def test_lock_is_released_when_a_run_fails(self, now, lifecycle_settings):
        BotSessionFactory(expires_at=now - 10 * DAY)
        with (
            mock.patch.object(policies, "_delete_batch", side_effect=RuntimeError("boom")),
            pytest.raises(RuntimeError),
        ):
            lifecycle.bot_sessions_prune(now=now)
        assert lifecycle.bot_sessions_prune(now=now).counts == {"sessions_deleted": 1}

    def test_cache_lock_expires_by_itself(self):
        # The lock used where there is no PostgreSQL: a holder that died leaves its key until the timeout.
        with locks._cache_lock("expiring", 1) as first:
            assert first
            with locks._cache_lock("expiring", 1) as second:
                assert not second
        with locks._cache_lock("expiring", 1) as again:
            assert again
        cache.add("botportal:lifecycle-lock:expiring", "a-worker-that-died", 1)
        with locks._cache_lock("expiring", 1) as blocked:
            assert not blocked
        time.sleep(1.2)
        with locks._cache_lock("expiring", 1) as after_expiry:
            assert after_expiry

    @pytest.mark.postgres
    @pytest.mark.skipif(connection.vendor != "postgresql", reason="the advisory lock is PostgreSQL's")
    def test_advisory_lock_goes_away_with_the_holders_connection(self):
        key = locks._advisory_key(lifecycle.PRUNE_SESSIONS)
        taken = threading.Event()

        def worker_that_dies():
            with connections["default"].cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
                assert cursor.fetchone()[0]
            taken.set()
            # Killed mid-run: its connection drops without unlocking (the socket itself: closing Django's
            # connection would hand it back to the connection pool, still open and still holding the lock).
            connections["default"].connection.close()
            connections["default"].close()

        thread = threading.Thread(target=worker_that_dies)
        thread.start()
        thread.join()
        assert taken.is_set()
        # The server drops the lock when the holder's backend has gone, a moment after the socket closed.
        deadline = time.monotonic() + 10
        while True:
            with lifecycle.lifecycle_lock(name=lifecycle.PRUNE_SESSIONS) as acquired:
                if acquired or time.monotonic() > deadline:
                    break
            time.sleep(0.05)
        assert acquired


def test_each_run_logs_counts_and_duration(now, lifecycle_settings, caplog):
    BotSessionFactory(expires_at=now - SECOND)
    with caplog.at_level("INFO", logger="sessions_app.services.lifecycle"):
        run = lifecycle.bot_sessions_expire(now=now)
    assert run.duration_seconds > 0
    result = run.as_dict()
    assert result["counts"] == {"sessions_expired": 1} and result["task"] == "expire_sessions"
    assert "expire_sessions: done: sessions_expired 1 in" in caplog.text
