"""The lifecycle's machinery: a run's record, the batch loop and the generic batch deleter.

Work goes in primary-key batches (`BOTPORTAL["PRUNE_BATCH_SIZE"]`), each batch its own short transaction, so
a run over millions of rows neither holds locks for long nor collects rows in Python; every batch re-selects
by the same condition, so a killed run loses nothing and the next picks up whatever is left. What to do
with the rows (the policies) is sessions_app/services/lifecycle/policies.py.
"""

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import F, Q, QuerySet

from sessions_app.services.lifecycle.locks import lifecycle_lock

logger = logging.getLogger(__name__)

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


def _lifecycle_run(
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
