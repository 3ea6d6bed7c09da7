"""The lifecycle tasks consumed by real Celery workers: one embedded in the test process (always), and a
`celery worker` process on the Redis broker against the PostgreSQL test database (when CI provides them)."""

import os
import subprocess
import sys
import tempfile
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from celery import Celery
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.conf import settings
from django.db import connection, connections
from django.utils import timezone

from botportal.celery import app as botportal_app
from sessions_app import tasks
from sessions_app.models import BotSession, Conversation, EndReason, Message
from sessions_app.tests.factories import BotSessionFactory, ConversationFactory, MessageFactory

BASE_DIR = Path(__file__).resolve().parents[2]
DAY = timedelta(days=1)


@pytest.fixture
def lifecycle_settings(settings):
    settings.BOTPORTAL = {
        **settings.BOTPORTAL,
        "IDLE_TIMEOUT": 3 * 86400,
        "SESSION_RETENTION": 3 * 86400,
        "CONVERSATION_RETENTION": 30 * 86400,
        "PRUNE_BATCH_SIZE": 2,
    }


def _close_worker_connections(**kwargs):
    # The worker thread has its own database connections; leaving them open would keep the test
    # database busy after the test.
    connections.close_all()


@pytest.fixture
def embedded_worker():
    """A Celery worker thread on an in-memory broker, consuming the project's tasks."""
    app = Celery("botportal-tests", set_as_current=False)
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.conf.update(
        broker_url="memory://",
        result_backend="cache+memory://",
        broker_transport_options={},
        task_always_eager=False,
    )
    task_postrun.connect(_close_worker_connections)
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
            yield app
    finally:
        task_postrun.disconnect(_close_worker_connections)
        # start_worker made the test app the default; give the project its app back.
        botportal_app.set_current()
        botportal_app.set_default()


def make_lifecycle_rows(now):
    """Rows each task must act on, next to rows one second inside every limit that must stay."""
    rows = {}
    rows["expired_session"] = BotSessionFactory(expires_at=now - timedelta(minutes=5))
    rows["live_session"] = BotSessionFactory(expires_at=now + timedelta(minutes=5))
    rows["idle"] = ConversationFactory(last_activity_at=now - 3 * DAY - timedelta(minutes=5))
    rows["idle_token"] = BotSessionFactory(conversation=rows["idle"], expires_at=now + DAY)
    rows["recent"] = ConversationFactory(last_activity_at=now - 3 * DAY + timedelta(minutes=5))
    rows["old_session"] = BotSessionFactory(expires_at=now - 3 * DAY - timedelta(minutes=5))
    rows["stale"] = ConversationFactory(last_activity_at=now - 30 * DAY - timedelta(minutes=5))
    for _ in range(2):
        MessageFactory(conversation=rows["stale"])
    return rows


@pytest.mark.django_db(transaction=True)
def test_embedded_worker_consumes_every_lifecycle_task(embedded_worker, lifecycle_settings):
    now = timezone.now()
    rows = make_lifecycle_rows(now)

    expired = embedded_worker.tasks[tasks.EXPIRE_SESSIONS_TASK].delay().get(timeout=30)
    ended = embedded_worker.tasks[tasks.END_IDLE_CONVERSATIONS_TASK].delay().get(timeout=30)
    pruned_sessions = embedded_worker.tasks[tasks.PRUNE_SESSIONS_TASK].delay().get(timeout=30)
    pruned_conversations = embedded_worker.tasks[tasks.PRUNE_CONVERSATIONS_TASK].delay().get(timeout=30)

    assert expired["ran"] and expired["counts"] == {"sessions_expired": 2}
    assert ended["counts"] == {"conversations_ended": 2, "sessions_revoked": 1}  # idle and stale
    assert pruned_sessions["counts"] == {"sessions_deleted": 1}
    assert pruned_conversations["counts"] == {"conversations_deleted": 1, "messages_deleted": 2, "sessions_deleted": 0}
    assert pruned_conversations["duration_seconds"] >= 0

    rows["expired_session"].refresh_from_db()
    assert rows["expired_session"].expired_at == rows["expired_session"].expires_at
    rows["idle"].refresh_from_db()
    assert rows["idle"].end_reason == EndReason.EXPIRATION and rows["idle"].ended_at is not None
    assert BotSession.objects.get(pk=rows["idle_token"].pk).revoked_at is not None
    rows["recent"].refresh_from_db()
    assert rows["recent"].ended_at is None
    assert not BotSession.objects.filter(pk=rows["old_session"].pk).exists()
    assert not Conversation.objects.filter(pk=rows["stale"].pk).exists()
    assert Message.objects.count() == 0
    assert BotSession.objects.filter(pk=rows["live_session"].pk, expired_at__isnull=True).exists()


def _database_url() -> str:
    db = connection.settings_dict
    from urllib.parse import quote

    credentials = quote(db["USER"] or "")
    if db.get("PASSWORD"):
        credentials += ":" + quote(db["PASSWORD"])
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def tasks_go_to_the_broker():
    # The suite runs queued tasks in process (the root conftest); this test needs them on the broker.
    previous = botportal_app.conf.task_always_eager
    botportal_app.conf.task_always_eager = False
    yield
    botportal_app.conf.task_always_eager = previous


@pytest.mark.skipif(
    not settings.CELERY_BROKER_URL.startswith("redis"),
    reason="needs CELERY_BROKER_URL=redis://... (CI); the embedded worker test covers the default broker",
)
@pytest.mark.django_db(transaction=True)
def test_worker_process_on_redis_consumes_a_delayed_task(lifecycle_settings, tasks_go_to_the_broker):
    if connection.vendor != "postgresql":
        pytest.skip("a worker process cannot open the in-memory SQLite test database; CI pairs Redis with PostgreSQL")
    assert not botportal_app.conf.task_always_eager
    now = timezone.now()
    expired = BotSessionFactory(expires_at=now - timedelta(minutes=5))
    live = BotSessionFactory(expires_at=now + timedelta(hours=1))

    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_RESULT_BACKEND": settings.CELERY_RESULT_BACKEND,
    }
    with tempfile.TemporaryFile(mode="w+") as log:
        worker = subprocess.Popen(  # noqa: S603
            [
                sys.executable, "-m", "celery", "-A", "botportal", "worker",
                "--pool=solo", "--loglevel=INFO", "--without-gossip", "--without-mingle",
                "--hostname", f"lifecycle-test-{uuid.uuid4().hex[:8]}@%h",
            ],
            cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            result = tasks.expire_sessions.delay()
            counts = result.get(timeout=90)
        finally:
            worker.terminate()
            worker.wait(timeout=30)
            log.seek(0)
            output = log.read()

    assert counts["counts"] == {"sessions_expired": 1}, output
    assert tasks.EXPIRE_SESSIONS_TASK in output and "succeeded" in output
    expired.refresh_from_db()
    live.refresh_from_db()
    assert expired.expired_at == expired.expires_at
    assert live.expired_at is None
