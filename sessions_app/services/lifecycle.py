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
from functools import partial

from django.conf import settings
from django.core.cache import cache
from django.db import connection, models, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from botportal import validation
from bots.models import Bot
from sessions_app.models import BotSession, Contact, Conversation, EndReason, Message

# The lifecycle works on every row, those of deleted bots and owners included (their `objects` managers
# leave those out of every read): the purge below removes them, and the prune's statements stay as measured.

logger = logging.getLogger(__name__)

EXPIRE_SESSIONS = "expire_sessions"
END_IDLE_CONVERSATIONS = "end_idle_conversations"
PRUNE_SESSIONS = "prune_sessions"
PRUNE_CONVERSATIONS = "prune_conversations"

# A run that dies without releasing its lock (killed worker, lost cache connection) blocks the next
# runs at most this long. Far longer than a healthy run: pruning a million conversations takes about 20 s.
LOCK_TIMEOUT = 30 * 60

# SQLite refuses statements with too many parameters (PostgreSQL deletes a batch in one statement).
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


# A batch's keys are bound as parameters (Batch.of), and PostgreSQL takes at most 65,535 per statement.
MAX_BATCH_SIZE = 50_000


def _batch_size(batch_size: int | None) -> int:
    size = batch_size or _settings_value("PRUNE_BATCH_SIZE")
    if not 1 <= size <= MAX_BATCH_SIZE:
        raise ValueError(f"the batch size must be from 1 to {MAX_BATCH_SIZE}")
    return size


@dataclass(frozen=True)
class Batch:
    """The primary keys of one fetched batch, and the range of the column the batch was walked along.

    Statements on the batch give the database both: the keys say exactly which rows, the range lets it
    find them with one index range scan (with only `id = ANY(...)` of thousands of random UUIDs,
    PostgreSQL prefers to scan the whole table) and leaves out a row whose value moved meanwhile.
    """

    ids: list
    order: str
    first: object
    last: object

    def of(self, queryset: QuerySet) -> QuerySet:
        return queryset.filter(pk__in=self.ids, **{f"{self.order}__gte": self.first, f"{self.order}__lte": self.last})


@dataclass(frozen=True)
class Step:
    """What one batch did: how many rows it chose, the (order value, pk) of the last of them, the counts."""

    chosen: int
    last: tuple | None
    counts: dict[str, int]


def _in_batches(
    run: LifecycleRun,
    *,
    queryset: QuerySet,
    batch_size: int,
    apply: Callable[[QuerySet, str], Step],
    order: str = "pk",
) -> None:
    """Apply `apply` to the rows of `queryset`, a batch at a time, each batch in its own transaction.

    `apply` gets the batch as an unevaluated page of (pk, order value) rows and the name of the order
    column. Rows are walked by keyset pagination on (`order`, pk), so each page is one index range scan
    that never revisits rows earlier batches handled (nor the index entries of rows they deleted).
    Walking along the column the condition is on (rather than a random UUID key) also visits the table
    roughly in the order it was written, which keeps each batch's pages few.
    """
    rows = queryset.annotate(ordered=F(order)).order_by("ordered", "pk").values_list("pk", "ordered")
    last = None  # (order value, pk) of the previous batch's last row
    while True:
        page = rows
        if last is not None:
            # Written as a lower bound (>=) so the database scans the index range from there.
            page = page.filter(Q(ordered__gte=last[0]) & ~Q(ordered=last[0], pk__lte=last[1]))
        started = time.monotonic()
        with transaction.atomic():
            step = apply(page[:batch_size], order)
        if not step.chosen:
            return
        run.batches += 1
        run.longest_batch_seconds = max(run.longest_batch_seconds, time.monotonic() - started)
        for name, value in step.counts.items():
            run.counts[name] = run.counts.get(name, 0) + value
        if step.chosen < batch_size:
            return
        last = step.last


def _on_fetched(apply: Callable[[Batch], dict[str, int]]) -> Callable[[QuerySet, str], Step]:
    """Adapt `apply`, which works on a Batch of keys fetched into Python, to `_in_batches`."""

    def step(page: QuerySet, order: str) -> Step:
        rows = list(page)
        if not rows:
            return Step(chosen=0, last=None, counts={})
        batch = Batch(ids=[pk for pk, _ in rows], order=order, first=rows[0][1], last=rows[-1][1])
        return Step(chosen=len(rows), last=(rows[-1][1], rows[-1][0]), counts=apply(batch))

    return step


def _chunks(ids: list) -> Iterator[list]:
    for start in range(0, len(ids), _SQLITE_CHUNK):
        yield ids[start : start + _SQLITE_CHUNK]


def _delete_ids(model, ids: list, *, column: str = "id", key_model=None) -> int:
    """DELETE the rows whose `column` is in `ids` (keys of `key_model`, by default `model`), in SQL:
    no Python-side collection of rows, no signals."""
    quote = connection.ops.quote_name
    key_field = (key_model or model)._meta.pk
    deleted = 0
    with connection.cursor() as cursor:
        for chunk in _chunks(ids):
            chunk = [key_field.get_db_prep_value(value, connection) for value in chunk]
            placeholders = ", ".join(["%s"] * len(chunk))
            sql = f"DELETE FROM {quote(model._meta.db_table)} WHERE {quote(column)} IN ({placeholders})"  # noqa: S608
            cursor.execute(sql, chunk)
            deleted += cursor.rowcount
    return deleted


# One statement chooses a batch, deletes it and reports the batch's size and last row, so no key
# travels to Python and back. Only a row whose order value is still the one it was chosen by goes: a
# conversation that got a message meanwhile has a newer last activity, and when the DELETE finds the
# row changed by a transaction that committed after the batch was chosen, it checks the row again.
_DELETE_CHOSEN = """
WITH batch (id, ordered) AS ({page}),
deleted AS (
    DELETE FROM {table} AS doomed USING batch
    WHERE doomed.{pk} = batch.id AND doomed.{order} = batch.ordered
    RETURNING 1
)
SELECT (SELECT count(*) FROM deleted), (SELECT count(*) FROM batch), last.ordered, last.id
FROM (SELECT ordered, id FROM batch ORDER BY ordered DESC, id DESC LIMIT 1) AS last
"""


def _deleted_in_transaction(cursor, models) -> list[int]:
    """Rows this transaction has deleted from each model's table so far, cascades included (PostgreSQL's
    statistics counters, on by default as autovacuum needs them): how the children the database removes
    itself get counted without looking them up a second time."""
    if not models:
        return []
    columns = ", ".join(["pg_stat_get_xact_tuples_deleted(%s::regclass)"] * len(models))
    cursor.execute(f"SELECT {columns}", [model._meta.db_table for model in models])  # noqa: S608
    return list(cursor.fetchone())


def _delete_batch(page: QuerySet, order: str, *, count_as: str, children: dict[str, tuple] | None = None) -> Step:
    """Delete one batch of rows (counted as `count_as`) with their `children`: count name -> (model,
    foreign key column).

    On PostgreSQL the batch is chosen and deleted by one statement and the foreign keys cascade in the
    database (migration 0003), several times faster than deleting the children first. SQLite has no such
    constraint from Django, so there the children are deleted explicitly first, those not counted too
    (`_uncounted_children`: a protocol's state, such as einstein.EinsteinSession, whose own migration
    makes its key cascade on PostgreSQL); its transactions take the write lock as they begin
    (IMMEDIATE), so nothing changes between choosing the rows and deleting.
    """
    model = page.model
    children = children or {}
    if connection.vendor == "postgresql":
        quote = connection.ops.quote_name
        order_column = model._meta.pk.column if order == "pk" else model._meta.get_field(order).column
        page_sql, params = page.query.sql_with_params()
        sql = _DELETE_CHOSEN.format(
            page=page_sql, table=quote(model._meta.db_table), pk=quote(model._meta.pk.column), order=quote(order_column)
        )
        child_models = [child_model for child_model, _ in children.values()]
        with connection.cursor() as cursor:
            before = _deleted_in_transaction(cursor, child_models)
            cursor.execute(sql, params)
            row = cursor.fetchone()
            after = _deleted_in_transaction(cursor, child_models)
        if row is None:
            return Step(chosen=0, last=None, counts={})
        deleted, chosen, last_ordered, last_pk = row
        counts = {count_as: deleted}
        counts.update((name, a - b) for name, a, b in zip(children, after, before, strict=True))
        return Step(chosen=chosen, last=(last_ordered, last_pk), counts=counts)
    rows = list(page)
    if not rows:
        return Step(chosen=0, last=None, counts={})
    ids = [pk for pk, _ in rows]
    for child_model, column in _uncounted_children(model, children):
        _delete_ids(child_model, ids, column=column, key_model=model)
    counts = {
        name: _delete_ids(child_model, ids, column=column, key_model=model)
        for name, (child_model, column) in children.items()
    }
    counts = {count_as: _delete_ids(model, ids), **counts}
    return Step(chosen=len(rows), last=(rows[-1][1], rows[-1][0]), counts=counts)


def _uncounted_children(model, children: dict[str, tuple]) -> list[tuple]:
    """(model, column) of every table whose rows go with a row of `model` (a CASCADE foreign key to it)
    that `children` does not list."""
    counted = {child_model for child_model, _ in children.values()}
    return [
        (rel.related_model, rel.field.column)
        for rel in model._meta.related_objects
        if rel.on_delete is models.CASCADE and rel.related_model not in counted
    ]


def _run(
    name: str, *, counts: list[str], dry_run: bool, body: Callable[[LifecycleRun], None], lock: str | None = None
) -> LifecycleRun:
    run = LifecycleRun(task=name, dry_run=dry_run)
    started = time.monotonic()
    with lifecycle_lock(name=lock or name) as acquired:
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
    due = BotSession.all_objects.filter(expired_at__isnull=True, expires_at__lte=now)

    def body(run: LifecycleRun) -> None:
        if dry_run:
            run.counts["sessions_expired"] = due.count()
            return

        def apply(batch):
            return {"sessions_expired": batch.of(due).update(expired_at=F("expires_at"))}

        _in_batches(run, queryset=due, batch_size=size, apply=_on_fetched(apply))

    return _run(EXPIRE_SESSIONS, counts=["sessions_expired"], dry_run=dry_run, body=body)


def conversations_end_idle(*, now: datetime | None = None, dry_run: bool = False, batch_size: int | None = None):
    """End conversations idle for longer than IDLE_TIMEOUT with reason Expiration, revoking their tokens."""
    now = now or timezone.now()
    size = _batch_size(batch_size)
    cutoff = now - timedelta(seconds=_settings_value("IDLE_TIMEOUT"))
    idle = Conversation.all_objects.filter(ended_at__isnull=True, last_activity_at__lt=cutoff)

    def body(run: LifecycleRun) -> None:
        if dry_run:
            run.counts["conversations_ended"] = idle.count()
            run.counts["sessions_revoked"] = BotSession.all_objects.filter(
                conversation__in=idle, revoked_at__isnull=True
            ).count()
            return

        def apply(batch):
            # Lock the batch and check again: a conversation that got a message meanwhile stays open.
            ids = list(batch.of(idle).select_for_update().values_list("pk", flat=True))
            ended = Conversation.all_objects.filter(pk__in=ids).update(
                ended_at=now, end_reason=EndReason.EXPIRATION, updated_at=now
            )
            revoked = BotSession.all_objects.filter(conversation_id__in=ids, revoked_at__isnull=True).update(
                revoked_at=now
            )
            return {"conversations_ended": ended, "sessions_revoked": revoked}

        _in_batches(run, queryset=idle, batch_size=size, apply=_on_fetched(apply), order="last_activity_at")

    return _run(END_IDLE_CONVERSATIONS, counts=["conversations_ended", "sessions_revoked"], dry_run=dry_run, body=body)


def bot_sessions_prune(*, now: datetime | None = None, dry_run: bool = False, batch_size: int | None = None):
    """Delete session records whose expiry or revocation is older than SESSION_RETENTION."""
    now = now or timezone.now()
    size = _batch_size(batch_size)
    cutoff = now - timedelta(seconds=_settings_value("SESSION_RETENTION"))
    old = BotSession.all_objects.filter(Q(expires_at__lt=cutoff) | Q(revoked_at__lt=cutoff))

    def body(run: LifecycleRun) -> None:
        if dry_run:
            run.counts["sessions_deleted"] = old.count()
            return
        _in_batches(
            run,
            queryset=old,
            batch_size=size,
            apply=partial(_delete_batch, count_as="sessions_deleted"),
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
    overriding = Bot.all_objects.filter(conversation_retention_days__isnull=False)
    if global_retention is not None:
        cutoff = now - timedelta(seconds=global_retention)
        rules.append(Conversation.all_objects.filter(~Q(bot__in=overriding.values("pk")), last_activity_at__lt=cutoff))
    days_values = overriding.order_by().values_list("conversation_retention_days", flat=True).distinct()
    for days in sorted(days_values):
        if not validation.retention_days_valid(days):
            # Written before the bound existed (or past it, in SQL): no cutoff can be computed for it, and
            # a guessed one could delete what the owner meant to keep. Those bots keep their conversations;
            # everyone else is pruned.
            bot_ids = list(Bot.all_objects.filter(conversation_retention_days=days).values_list("pk", flat=True)[:20])
            logger.error(
                "prune: skipping bots with conversation_retention_days=%s (allowed %s..%s): %s",
                days,
                validation.RETENTION_DAYS_MIN,
                validation.RETENTION_DAYS_MAX,
                ", ".join(str(pk) for pk in bot_ids),
            )
            continue
        cutoff = now - timedelta(days=days)
        bots = Bot.all_objects.filter(conversation_retention_days=days).values("pk")
        rules.append(Conversation.all_objects.filter(bot__in=bots, last_activity_at__lt=cutoff))
    return rules


_CONVERSATION_COUNTS = ["conversations_deleted", "messages_deleted", "sessions_deleted"]


def _conversations_delete(page: QuerySet, order: str) -> Step:
    """Delete a batch of conversations with their messages and sessions."""
    return _delete_batch(
        page,
        order,
        count_as="conversations_deleted",
        children={
            "messages_deleted": (Message, "conversation_id"),
            "sessions_deleted": (BotSession, "conversation_id"),
        },
    )


def conversations_prune(*, now: datetime | None = None, dry_run: bool = False, batch_size: int | None = None):
    """Delete conversations (with their messages and sessions) whose last activity is older than their retention."""
    now = now or timezone.now()
    size = _batch_size(batch_size)

    def body(run: LifecycleRun) -> None:
        for queryset in conversations_prunable(now=now):
            if dry_run:
                counts = {
                    "conversations_deleted": queryset.count(),
                    "messages_deleted": Message.all_objects.filter(conversation__in=queryset).count(),
                    "sessions_deleted": BotSession.all_objects.filter(conversation__in=queryset).count(),
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


# --- purging what was deleted ---------------------------------------------------------------------
#
# Deleting a bot, a contact or an owner marks it deleted in one short transaction (every read leaves it
# out from then on: the models' managers) and then removes its rows here, with the same batches as the
# prune: each batch one short transaction, nothing collected in Python, no statement with more than a
# batch of parameters. Django's own delete is left only what is small by nature (a bot's intents and
# variables, an owner's keys and profile), once the big children are gone.

PURGE_DELETED = "purge_deleted"
_PURGE_COUNTS = [
    "owners_deleted",
    "bots_deleted",
    "contacts_deleted",
    "conversations_deleted",
    "messages_deleted",
    "sessions_deleted",
    "conversations_detached",
    "records_deleted",
    "utterances_deleted",
]
# Passes over the deleted objects in one run: one more picks up what was deleted while the first ran.
_PURGE_PASSES = 3


def _conversations_purge(run: LifecycleRun, queryset: QuerySet, size: int) -> None:
    _in_batches(run, queryset=queryset, batch_size=size, apply=_conversations_delete, order="created_at")


def _conversations_detach(run: LifecycleRun, queryset: QuerySet, size: int) -> None:
    """Set the contact of the `queryset` conversations to null, a batch at a time (what SET_NULL does)."""

    def apply(batch):
        return {"conversations_detached": batch.of(queryset).update(contact=None)}

    _in_batches(run, queryset=queryset, batch_size=size, apply=_on_fetched(apply), order="created_at")


def _bot_rows_purge(run: LifecycleRun, bot_id, size: int) -> None:
    from bots.models import Utterance

    _conversations_purge(run, Conversation.all_objects.filter(bot_id=bot_id), size)
    # Plain SQL, without the signals that would bump the version of a bot that is going anyway.
    _in_batches(
        run,
        queryset=Utterance.objects.filter(intent__bot_id=bot_id),
        batch_size=size,
        apply=partial(_delete_batch, count_as="utterances_deleted"),
    )
    with transaction.atomic():
        bot = Bot.all_objects.filter(pk=bot_id, deleted_at__isnull=False).select_for_update().first()
        if bot is not None:
            bot.delete()  # what is left: the bot's definition (intents, variables, entity types)
            run.counts["bots_deleted"] = run.counts.get("bots_deleted", 0) + 1


def _contact_rows_purge(run: LifecycleRun, contact_id, size: int) -> None:
    _conversations_detach(run, Conversation.all_objects.filter(contact_id=contact_id), size)
    with transaction.atomic():
        deleted, _ = Contact.all_objects.filter(pk=contact_id, deleted_at__isnull=False).delete()
        run.counts["contacts_deleted"] = run.counts.get("contacts_deleted", 0) + min(deleted, 1)


def _owner_rows_purge(run: LifecycleRun, owner_id, size: int) -> None:
    from django.contrib.auth import get_user_model

    from bots.models import DatasetRecord

    _conversations_purge(run, Conversation.all_objects.filter(owner_id=owner_id), size)
    # Another owner's conversation never names this owner's contact, but a foreign key must not fail on it.
    _conversations_detach(run, Conversation.all_objects.filter(contact__owner_id=owner_id), size)
    _in_batches(
        run,
        queryset=Contact.all_objects.filter(owner_id=owner_id),
        batch_size=size,
        apply=partial(_delete_batch, count_as="contacts_deleted"),
    )
    _in_batches(
        run,
        queryset=DatasetRecord.objects.filter(dataset__owner_id=owner_id),
        batch_size=size,
        apply=partial(_delete_batch, count_as="records_deleted"),
    )
    Bot.all_objects.filter(owner_id=owner_id, deleted_at__isnull=True).update(deleted_at=timezone.now())
    for bot_id in list(Bot.all_objects.filter(owner_id=owner_id).values_list("pk", flat=True)):
        _bot_rows_purge(run, bot_id, size)
    with transaction.atomic():
        owner = (
            get_user_model()
            .objects.filter(pk=owner_id, botportal_profile__deleted_at__isnull=False)
            .select_for_update(of=("self",))
            .first()
        )
        if owner is not None:
            owner.delete()  # what is left is small: keys, profile, datasets and skillsets, admin log
            run.counts["owners_deleted"] = run.counts.get("owners_deleted", 0) + 1


def _purge_one(name: str, rows_purge, object_id, batch_size: int | None) -> LifecycleRun:
    run = LifecycleRun(task=name, counts=dict.fromkeys(_PURGE_COUNTS, 0))
    started = time.monotonic()
    rows_purge(run, object_id, _batch_size(batch_size))
    run.duration_seconds = time.monotonic() - started
    logger.info("%s %s: %s", name, object_id, run.summary())
    return run


def bot_purge(*, bot_id, batch_size: int | None = None) -> LifecycleRun:
    """Remove a deleted bot's rows (its conversations with their messages and sessions first), then the bot."""
    return _purge_one("purge_bot", _bot_rows_purge, bot_id, batch_size)


def contact_purge(*, contact_id, batch_size: int | None = None) -> LifecycleRun:
    """Detach a deleted contact's conversations (they stay the owner's), then delete the contact."""
    return _purge_one("purge_contact", _contact_rows_purge, contact_id, batch_size)


def owner_purge(*, owner_id, batch_size: int | None = None) -> LifecycleRun:
    """Remove a deleted owner's conversations, contacts, records and bots, then the user."""
    return _purge_one("purge_owner", _owner_rows_purge, owner_id, batch_size)


def _pending_deletions() -> list[tuple]:
    from sessions_app.models import OwnerProfile

    owners = OwnerProfile.objects.filter(deleted_at__isnull=False).order_by("deleted_at")
    bots = Bot.all_objects.filter(deleted_at__isnull=False).order_by("deleted_at")
    contacts = Contact.all_objects.filter(deleted_at__isnull=False).order_by("deleted_at")
    return [
        *((_owner_rows_purge, owner_id) for owner_id in owners.values_list("owner_id", flat=True)),
        *((_bot_rows_purge, pk) for pk in bots.values_list("pk", flat=True)),
        *((_contact_rows_purge, pk) for pk in contacts.values_list("pk", flat=True)),
    ]


def deleted_purge(*, dry_run: bool = False, batch_size: int | None = None) -> LifecycleRun:
    """Remove the rows of every deleted owner, bot and contact: what a delete left to the background, or
    what a killed worker left half done (every step re-selects what is left, so it simply goes on)."""
    size = _batch_size(batch_size)

    def body(run: LifecycleRun) -> None:
        if dry_run:
            pending = _pending_deletions()
            for name, rows_purge in (
                ("owners_deleted", _owner_rows_purge),
                ("bots_deleted", _bot_rows_purge),
                ("contacts_deleted", _contact_rows_purge),
            ):
                run.counts[name] = sum(1 for purge, _ in pending if purge is rows_purge)
            return
        for _ in range(_PURGE_PASSES):
            pending = _pending_deletions()
            if not pending:
                return
            for rows_purge, object_id in pending:
                rows_purge(run, object_id, size)

    # The prune's lock: the two delete conversations in different orders, and run side by side they could
    # deadlock on the same rows. A purge that finds the prune running is done by the prune task after it.
    return _run(PURGE_DELETED, counts=_PURGE_COUNTS, dry_run=dry_run, body=body, lock=PRUNE_CONVERSATIONS)
