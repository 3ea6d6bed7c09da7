"""Session lifecycle: expire tokens, end idle conversations, prune old sessions and conversations.

Every service here is safe to run at any time and any number of times:
- work goes in primary-key batches (`BOTPORTAL["PRUNE_BATCH_SIZE"]`), each batch its own short
  transaction, so a run over millions of rows neither holds locks for long nor collects rows in Python;
- a killed run loses nothing it should have kept (each committed batch is complete on its own) and the
  next run picks up whatever is left, because every batch re-selects by the same condition;
- only one run of a task goes at a time: a second one returns at once with `ran=False`.
"""

import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from bots.models import Bot
from sessions_app.models import BotSession, Conversation, EndReason, Message

logger = logging.getLogger(__name__)

EXPIRE_SESSIONS = "expire_sessions"
END_IDLE_CONVERSATIONS = "end_idle_conversations"
PRUNE_SESSIONS = "prune_sessions"
PRUNE_CONVERSATIONS = "prune_conversations"

# A run that dies without releasing its lock (killed worker, lost cache connection) blocks the next
# runs at most this long. Far longer than a healthy run: pruning a million conversations takes about 20 s.
LOCK_TIMEOUT = 30 * 60

# SQLite refuses statements with too many parameters; PostgreSQL gets each batch as one array.
_SQLITE_CHUNK = 500


@dataclass
class LifecycleRun:
    task: str
    ran: bool = True
    dry_run: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    duration_seconds: float = 0.0
    batches: int = 0
    longest_batch_seconds: float = 0.0

    def as_dict(self) -> dict:
        return {
            "task": self.task,
            "ran": self.ran,
            "dry_run": self.dry_run,
            "counts": dict(self.counts),
            "duration_seconds": round(self.duration_seconds, 3),
            "batches": self.batches,
            "longest_batch_seconds": round(self.longest_batch_seconds, 3),
        }

    def summary(self) -> str:
        if not self.ran:
            return f"{self.task}: another run is in progress; nothing done"
        counts = ", ".join(f"{name} {value}" for name, value in self.counts.items())
        verb = "would affect" if self.dry_run else "done"
        return (
            f"{self.task}: {verb}: {counts} in {self.duration_seconds:.2f}s "
            f"({self.batches} batches, longest {self.longest_batch_seconds:.2f}s)"
        )


# --- locking ----------------------------------------------------------------------------------


def _advisory_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(f"botportal.lifecycle.{name}".encode()).digest()[:8], "big", signed=True)


@contextmanager
def _advisory_lock(name: str) -> Iterator[bool]:
    key = _advisory_key(name)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        acquired = cursor.fetchone()[0]
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


@contextmanager
def _cache_lock(name: str, timeout: int) -> Iterator[bool]:
    cache_key = f"botportal:lifecycle-lock:{name}"
    holder = uuid.uuid4().hex
    acquired = cache.add(cache_key, holder, timeout)
    try:
        yield acquired
    finally:
        # Only the holder releases; a lock that expired and was taken by another run stays with it.
        if acquired and cache.get(cache_key) == holder:
            cache.delete(cache_key)


def lifecycle_lock(*, name: str, timeout: int = LOCK_TIMEOUT):
    """A context manager yielding whether this run holds the lock for `name`.

    On PostgreSQL a session-level advisory lock: every worker shares it through the database, and it goes
    away with the holder's connection, so a killed worker never leaves it behind. Elsewhere the Django
    cache's atomic `add`, with a timeout so that a lock whose holder died expires by itself.
    """
    if connection.vendor == "postgresql":
        return _advisory_lock(name)
    return _cache_lock(name, timeout)


# --- the batch loop -----------------------------------------------------------------------------


def _settings_value(name: str):
    return settings.BOTPORTAL[name]


def _batch_size(batch_size: int | None) -> int:
    size = batch_size or _settings_value("PRUNE_BATCH_SIZE")
    if size < 1:
        raise ValueError("the batch size must be at least 1")
    return size


@dataclass(frozen=True)
class Batch:
    """The primary keys of one batch, and the range of the column the batch was walked along.

    Statements on the batch give the database both: the keys say exactly which rows, the range lets it
    find them with one index range scan. With only `id = ANY(...)` of thousands of random UUIDs,
    PostgreSQL prefers to scan the whole table for every batch.
    """

    ids: list
    order: str
    first: object
    last: object

    def of(self, queryset: QuerySet) -> QuerySet:
        return queryset.filter(pk__in=self.ids, **{f"{self.order}__gte": self.first, f"{self.order}__lte": self.last})


def _batch_bounds(queryset: QuerySet, ids: list, order: str):
    """(order value, pk) of the batch's first and last rows, or None if none of them is due any more."""
    if order == "pk":
        return (ids[0], ids[0]), (ids[-1], ids[-1])
    # Only the two ends are needed: loading every row's timestamp into Python would cost more than the
    # database's whole work on the batch.
    ends = dict(queryset.filter(pk__in={ids[0], ids[-1]}).values_list("pk", order))
    if ids[0] in ends and ids[-1] in ends:
        return (ends[ids[0]], ids[0]), (ends[ids[-1]], ids[-1])
    # An end changed meanwhile (rare): take the range of the rows still due.
    rows = list(queryset.filter(pk__in=ids).order_by(order, "pk").values_list(order, "pk"))
    return (rows[0], rows[-1]) if rows else None


def _in_batches(
    run: LifecycleRun,
    *,
    queryset: QuerySet,
    batch_size: int,
    apply: Callable[[Batch], dict[str, int]],
    order: str = "pk",
) -> None:
    """Apply `apply` to the rows of `queryset`, a batch at a time, each batch in its own transaction.

    Rows are walked by keyset pagination on (`order`, pk), so each fetch is one index range scan that never
    revisits rows earlier batches handled. Walking along the column the condition is on (rather than a
    random UUID key) also visits the table roughly in the order it was written, which keeps each batch's
    pages few.
    """
    last = None  # (order value, pk) of the previous batch's last row
    while True:
        page = queryset.order_by(order, "pk") if order != "pk" else queryset.order_by("pk")
        if last is not None:
            if order == "pk":
                page = page.filter(pk__gt=last[1])
            else:
                # Written as a lower bound (>=) so the database scans the index range from there.
                page = page.filter(Q(**{f"{order}__gte": last[0]}) & ~Q(**{order: last[0], "pk__lte": last[1]}))
        started = time.monotonic()
        with transaction.atomic():
            ids = list(page.values_list("pk", flat=True)[:batch_size])
            if not ids:
                return
            bounds = _batch_bounds(queryset, ids, order)
            if bounds is None:  # every row of the batch changed since it was fetched: none is due any more
                continue
            first, last = bounds
            counts = apply(Batch(ids=ids, order=order, first=first[0], last=last[0]))
        elapsed = time.monotonic() - started
        run.batches += 1
        run.longest_batch_seconds = max(run.longest_batch_seconds, elapsed)
        for name, value in counts.items():
            run.counts[name] = run.counts.get(name, 0) + value
        if len(ids) < batch_size:
            return


def _chunks(ids: list) -> Iterator[list]:
    if connection.vendor == "sqlite":
        for start in range(0, len(ids), _SQLITE_CHUNK):
            yield ids[start : start + _SQLITE_CHUNK]
    else:
        yield ids


def _delete_ids(model, ids: list, *, column: str = "id", key_model=None, batch: Batch | None = None) -> int:
    """DELETE the rows whose `column` is in `ids` (keys of `key_model`, by default `model`), in SQL:
    no Python-side collection of rows, no signals. With `batch`, also within the batch's range."""
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    key_field = (key_model or model)._meta.pk
    where, params = "", []
    if batch is not None:
        order_field = model._meta.pk if batch.order == "pk" else model._meta.get_field(batch.order)
        where = f" AND {quote(order_field.column)} >= %s AND {quote(order_field.column)} <= %s"
        params = [
            order_field.get_db_prep_value(batch.first, connection),
            order_field.get_db_prep_value(batch.last, connection),
        ]
    deleted = 0
    with connection.cursor() as cursor:
        for chunk in _chunks(ids):
            if connection.vendor == "postgresql":  # psycopg sends UUIDs and integers as they are
                cursor.execute(f"DELETE FROM {table} WHERE {quote(column)} = ANY(%s){where}", [chunk, *params])  # noqa: S608
            else:
                chunk = [key_field.get_db_prep_value(value, connection) for value in chunk]
                placeholders = ", ".join(["%s"] * len(chunk))
                sql = f"DELETE FROM {table} WHERE {quote(column)} IN ({placeholders}){where}"  # noqa: S608
                cursor.execute(sql, [*chunk, *params])
            deleted += cursor.rowcount
    return deleted


def _run(name: str, *, counts: list[str], dry_run: bool, body: Callable[[LifecycleRun], None]) -> LifecycleRun:
    run = LifecycleRun(task=name, dry_run=dry_run)
    started = time.monotonic()
    with lifecycle_lock(name=name) as acquired:
        if not acquired:
            run.ran = False
            logger.info("%s", run.summary())
            return run
        run.counts = dict.fromkeys(counts, 0)
        body(run)
    run.duration_seconds = time.monotonic() - started
    logger.info("%s", run.summary())
    return run


# --- the services ------------------------------------------------------------------------------


def bot_sessions_expire(*, now: datetime | None = None, dry_run: bool = False, batch_size: int | None = None):
    """Mark sessions whose expiry has passed as expired, recording the moment they stopped working.

    Request-time checks already refuse such tokens; this keeps state, admin filters and counts true.
    """
    now = now or timezone.now()
    size = _batch_size(batch_size)
    due = BotSession.objects.filter(expired_at__isnull=True, expires_at__lte=now)

    def body(run: LifecycleRun) -> None:
        if dry_run:
            run.counts["sessions_expired"] = due.count()
            return

        def apply(batch):
            return {"sessions_expired": batch.of(due).update(expired_at=F("expires_at"))}

        _in_batches(run, queryset=due, batch_size=size, apply=apply)

    return _run(EXPIRE_SESSIONS, counts=["sessions_expired"], dry_run=dry_run, body=body)


def conversations_end_idle(*, now: datetime | None = None, dry_run: bool = False, batch_size: int | None = None):
    """End conversations idle for longer than IDLE_TIMEOUT with reason Expiration, revoking their tokens."""
    now = now or timezone.now()
    size = _batch_size(batch_size)
    cutoff = now - timedelta(seconds=_settings_value("IDLE_TIMEOUT"))
    idle = Conversation.objects.filter(ended_at__isnull=True, last_activity_at__lt=cutoff)

    def body(run: LifecycleRun) -> None:
        if dry_run:
            run.counts["conversations_ended"] = idle.count()
            run.counts["sessions_revoked"] = BotSession.objects.filter(
                conversation__in=idle, revoked_at__isnull=True
            ).count()
            return

        def apply(batch):
            # Lock the batch and check again: a conversation that got a message meanwhile stays open.
            ids = list(batch.of(idle).select_for_update().values_list("pk", flat=True))
            ended = Conversation.objects.filter(pk__in=ids).update(
                ended_at=now, end_reason=EndReason.EXPIRATION, updated_at=now
            )
            revoked = BotSession.objects.filter(conversation_id__in=ids, revoked_at__isnull=True).update(revoked_at=now)
            return {"conversations_ended": ended, "sessions_revoked": revoked}

        _in_batches(run, queryset=idle, batch_size=size, apply=apply, order="last_activity_at")

    return _run(END_IDLE_CONVERSATIONS, counts=["conversations_ended", "sessions_revoked"], dry_run=dry_run, body=body)


def bot_sessions_prune(*, now: datetime | None = None, dry_run: bool = False, batch_size: int | None = None):
    """Delete session records whose expiry or revocation is older than SESSION_RETENTION."""
    now = now or timezone.now()
    size = _batch_size(batch_size)
    cutoff = now - timedelta(seconds=_settings_value("SESSION_RETENTION"))
    old = BotSession.objects.filter(Q(expires_at__lt=cutoff) | Q(revoked_at__lt=cutoff))

    def body(run: LifecycleRun) -> None:
        if dry_run:
            run.counts["sessions_deleted"] = old.count()
            return
        _in_batches(
            run,
            queryset=old,
            batch_size=size,
            apply=lambda batch: {"sessions_deleted": _delete_ids(BotSession, batch.ids, batch=batch)},
        )

    return _run(PRUNE_SESSIONS, counts=["sessions_deleted"], dry_run=dry_run, body=body)


def conversations_prunable(*, now: datetime | None = None) -> list[QuerySet]:
    """Conversations past their retention, one queryset per retention rule.

    A bot's `conversation_retention_days` overrides the global CONVERSATION_RETENTION (seconds; None keeps
    conversations forever). Contacts are not touched: they belong to the owner.
    """
    now = now or timezone.now()
    rules = []
    global_retention = _settings_value("CONVERSATION_RETENTION")
    # Bot ids are compared through a subquery rather than a join: a join's OR on the nullable side makes
    # PostgreSQL misjudge the row count and sort the whole table for every batch.
    overriding = Bot.objects.filter(conversation_retention_days__isnull=False)
    if global_retention is not None:
        cutoff = now - timedelta(seconds=global_retention)
        rules.append(Conversation.objects.filter(~Q(bot__in=overriding.values("pk")), last_activity_at__lt=cutoff))
    days_values = overriding.order_by().values_list("conversation_retention_days", flat=True).distinct()
    for days in sorted(days_values):
        cutoff = now - timedelta(days=days)
        bots = Bot.objects.filter(conversation_retention_days=days).values("pk")
        rules.append(Conversation.objects.filter(bot__in=bots, last_activity_at__lt=cutoff))
    return rules


_CONVERSATION_COUNTS = ["conversations_deleted", "messages_deleted", "sessions_deleted"]


# Rows this transaction has deleted from each table so far, cascades included (PostgreSQL's statistics
# counters, on by default as autovacuum needs them): how the children the database removes itself get
# counted without looking them up a second time.
_DELETED_IN_TRANSACTION = (
    "SELECT pg_stat_get_xact_tuples_deleted('sessions_app_message'::regclass),"
    " pg_stat_get_xact_tuples_deleted('sessions_app_botsession'::regclass)"
)


def _conversations_delete(batch: Batch) -> dict[str, int]:
    """Delete a batch of conversations with their messages and sessions.

    The batch's range of `last_activity_at` is part of the condition, so a conversation that got a message
    after the batch was fetched (its last activity is now newer) stays. On PostgreSQL the foreign keys
    cascade in the database (migration 0003), several times faster than deleting the children first.
    SQLite has no such constraint from Django, so there the children are deleted explicitly first.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_DELETED_IN_TRANSACTION)
            messages_before, sessions_before = cursor.fetchone()
            conversations = _delete_ids(Conversation, batch.ids, batch=batch)
            cursor.execute(_DELETED_IN_TRANSACTION)
            messages_after, sessions_after = cursor.fetchone()
        return {
            "conversations_deleted": conversations,
            "messages_deleted": messages_after - messages_before,
            "sessions_deleted": sessions_after - sessions_before,
        }
    ids = list(batch.of(Conversation.objects).values_list("pk", flat=True))
    messages = _delete_ids(Message, ids, column="conversation_id", key_model=Conversation)
    sessions = _delete_ids(BotSession, ids, column="conversation_id", key_model=Conversation)
    conversations = _delete_ids(Conversation, ids)
    return {"conversations_deleted": conversations, "messages_deleted": messages, "sessions_deleted": sessions}


def conversations_prune(*, now: datetime | None = None, dry_run: bool = False, batch_size: int | None = None):
    """Delete conversations (with their messages and sessions) whose last activity is older than their retention."""
    now = now or timezone.now()
    size = _batch_size(batch_size)

    def body(run: LifecycleRun) -> None:
        for queryset in conversations_prunable(now=now):
            if dry_run:
                counts = {
                    "conversations_deleted": queryset.count(),
                    "messages_deleted": Message.objects.filter(conversation__in=queryset).count(),
                    "sessions_deleted": BotSession.objects.filter(conversation__in=queryset).count(),
                }
                for name, value in counts.items():
                    run.counts[name] = run.counts.get(name, 0) + value
                continue
            _in_batches(
                run,
                queryset=queryset,
                batch_size=size,
                apply=_conversations_delete,
                order="last_activity_at",
            )

    return _run(PRUNE_CONVERSATIONS, counts=_CONVERSATION_COUNTS, dry_run=dry_run, body=body)
