"""Rows from hand-written SQL, loaded exactly as Django's own queries load them.

For the few reads every API request makes, Django compiling the same query again on each request
costs several times the query itself (docs/performance.md). Those reads write their SQL once, from
the models' own columns, and turn each row back into values or instances here: each field's database
converters applied (JSON, and on SQLite dates, UUIDs and booleans), then `Model.from_db`, so the
result is what an ORM query would have made; except, where asked, JSON columns kept as their text
(`JsonText`) for a response that writes them as they are.

On PostgreSQL a timestamp is selected as microseconds since the epoch and rebuilt in Python: exact,
and many times cheaper than parsing the text form as the driver does for Django.
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, models, transaction
from django.db.models import signals

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _from_epoch_microseconds(value, expression, connection):
    return None if value is None else _EPOCH + timedelta(microseconds=value)


def _is_timestamp(field) -> bool:
    return isinstance(field, models.DateTimeField)


class JsonText(str):
    """A JSON column's value as the database holds it (valid JSON text), to be written into a response
    unchanged: decoding it only to encode it again is most of the cost of a page of such values."""


def _json_text(value, expression, connection):
    return None if value is None else JsonText(value)


class ModelColumns:
    """Columns of `model` under the table alias `alias`: every concrete field, or the named `fields`.
    With `json_as_text`, JSON columns come as `JsonText`, not decoded (Django's backends read them as
    text before its field decodes them, on PostgreSQL and SQLite alike)."""

    def __init__(self, model, alias: str, fields: Sequence[str] | None = None, *, json_as_text: bool = False):
        self.model = model
        self.json_as_text = json_as_text
        self.alias = alias
        self.fields = (
            list(model._meta.concrete_fields) if fields is None else [model._meta.get_field(name) for name in fields]
        )
        self.names = [field.name for field in self.fields]
        self.attnames = [field.attname for field in self.fields]
        self._converters_by_vendor: dict[str, list] = {}

    def __len__(self) -> int:
        return len(self.fields)

    @property
    def table(self) -> str:
        return self.model._meta.db_table

    def column(self, name: str, connection) -> str:
        """`alias."column"` of the field called `name`."""
        return f"{self.alias}.{connection.ops.quote_name(self.model._meta.get_field(name).column)}"

    def select_list(self, connection) -> str:
        columns = []
        for field in self.fields:
            column = f"{self.alias}.{connection.ops.quote_name(field.column)}"
            if connection.vendor == "postgresql" and _is_timestamp(field):
                column = f"(EXTRACT(EPOCH FROM {column}) * 1000000)::bigint"
            columns.append(column)
        return ", ".join(columns)

    def _converters(self, connection) -> list[tuple[int, list, object]]:
        if connection.vendor not in self._converters_by_vendor:
            converters = []
            for index, field in enumerate(self.fields):
                column = field.get_col(self.alias)
                if connection.vendor == "postgresql" and _is_timestamp(field):
                    found = [_from_epoch_microseconds]
                elif self.json_as_text and isinstance(field, models.JSONField):
                    found = [_json_text]
                else:
                    found = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
                if found:
                    converters.append((index, found, column))
            self._converters_by_vendor[connection.vendor] = converters
        return self._converters_by_vendor[connection.vendor]

    def values(self, row: Sequence, connection) -> list:
        """This model's slice of a row, each value as the field holds it. `connection` is the real
        connection (`connections[alias]`), not the `django.db.connection` proxy."""
        values = list(row)
        for index, converters, column in self._converters(connection):
            for converter in converters:
                values[index] = converter(values[index], column, connection)
        return values

    def dicts(self, rows: Sequence[Sequence], *, using: str = DEFAULT_DB_ALIAS) -> list[dict]:
        """The rows as `QuerySet.values(*fields)` gives them."""
        connection = connections[using]
        names = self.names
        return [dict(zip(names, self.values(row, connection), strict=True)) for row in rows]

    def instance(self, row: Sequence, *, using: str = DEFAULT_DB_ALIAS):
        """The model instance for this model's slice of a row (every concrete field selected)."""
        return self.model.from_db(using, self.attnames, self.values(row, connections[using]))


class JoinedLookup:
    """At most one row of `model`, found by the unique field `by`, with the object its foreign key
    `relation` points to loaded in the same statement (as `select_related(relation)` would; None when
    a nullable foreign key is empty).

    `then`, if given, names a foreign key of the related row whose object is loaded in the same statement
    too (`select_related(f"{relation}__{then}")`), under the alias `o`.

    `where`, if given, is called with the connection and returns one more SQL condition on the aliases
    `t` (the row), `r` (the related row) and `o` (`then`'s): a row that fails it is not found.

    `also` names reverse one-to-one relations of `model` (a row of another table whose primary key is
    a foreign key to this one, such as a protocol's state of a conversation): each is LEFT JOINed in
    the same statement and cached on the row as `select_related` would (missing: the accessor raises
    DoesNotExist, without a query). `related_also` does the same for reverse one-to-one relations of the
    related row (a protocol's state of a session's conversation)."""

    def __init__(
        self,
        model,
        *,
        relation: str,
        by: str,
        then: str | None = None,
        where=None,
        also: Sequence[str] = (),
        related_also: Sequence[str] = (),
    ):
        self.where = where
        self.relation = model._meta.get_field(relation)
        self.by = model._meta.get_field(by)
        self.row = ModelColumns(model, "t")
        self.related = ModelColumns(self.relation.related_model, "r")
        self._related_key = self.related.attnames.index(self.relation.target_field.attname)
        self.then = self.relation.related_model._meta.get_field(then) if then is not None else None
        if self.then is not None and not (self.then.concrete and (self.then.many_to_one or self.then.one_to_one)):
            raise ValueError(f"{then!r} is not a foreign key of {self.relation.related_model.__name__}")
        self.then_row = ModelColumns(self.then.related_model, "o") if self.then is not None else None
        self._then_key = (
            self.then_row.attnames.index(self.then.target_field.attname) if self.then is not None else None
        )
        # (owner alias, reverse one-to-one, its columns): `also` hangs off the row, `related_also` off
        # the related row.
        self.also = [("t", model._meta.get_field(name)) for name in also] + [
            ("r", self.relation.related_model._meta.get_field(name)) for name in related_also
        ]
        for _, rel in self.also:
            if not (rel.one_to_one and rel.auto_created and rel.field.primary_key):
                raise ValueError(f"{rel.name!r} is not a reverse one-to-one whose key is the row's own")
        self.also_rows = [ModelColumns(rel.related_model, f"a{index}") for index, (_, rel) in enumerate(self.also)]
        self._statements: dict[tuple[str, bool, bool], str] = {}

    def _sql(self, connection, for_update: bool, nowait: bool) -> str:
        key = (connection.vendor, for_update, nowait)
        if key not in self._statements:
            quote = connection.ops.quote_name
            features = connection.features
            target = self.related.column(self.relation.target_field.name, connection)
            join = "LEFT JOIN" if self.relation.null else "JOIN"
            selected = [self.row.select_list(connection), self.related.select_list(connection)]
            joins = [
                f" FROM {quote(self.row.table)} t {join} {quote(self.related.table)} r"
                f" ON {target} = {self.row.column(self.relation.name, connection)}"
            ]
            if self.then is not None:
                selected.append(self.then_row.select_list(connection))
                then_join = "LEFT JOIN" if self.relation.null or self.then.null else "JOIN"
                joins.append(
                    f" {then_join} {quote(self.then_row.table)} o"
                    f" ON {self.then_row.column(self.then.target_field.name, connection)}"
                    f" = {self.related.column(self.then.name, connection)}"
                )
            for (owner, rel), columns in zip(self.also, self.also_rows, strict=True):
                selected.append(columns.select_list(connection))
                own = columns.column(rel.field.name, connection)
                parent = (self.row if owner == "t" else self.related).column(rel.field.target_field.name, connection)
                joins.append(f" LEFT JOIN {quote(columns.table)} {columns.alias} ON {own} = {parent}")
            sql = (
                f"SELECT {', '.join(selected)}"  # noqa: S608
                + "".join(joins)
                + f" WHERE {self.row.column(self.by.name, connection)} = %s"
            )
            if self.where is not None:
                sql += f" AND ({self.where(connection)})"
            # Only the row itself is locked, as select_for_update(of=("self",)); SQLite takes the
            # database's write lock when the transaction begins instead.
            if for_update and features.has_select_for_update:
                sql += " FOR UPDATE OF t" if features.has_select_for_update_of else " FOR UPDATE"
                if nowait and features.has_select_for_update_nowait:
                    sql += " NOWAIT"
            self._statements[key] = sql
        return self._statements[key]

    def get(self, value, *, for_update: bool = False, nowait: bool = False, using: str = DEFAULT_DB_ALIAS):
        """The row (None if there is none); with `for_update`, locked until the transaction ends, and
        with `nowait` a row another transaction holds raises DatabaseError at once instead of waiting."""
        connection = connections[using]
        with connection.cursor() as cursor:
            sql = self._sql(connection, for_update, nowait)
            cursor.execute(sql, [self.by.get_db_prep_value(value, connection)])
            row = cursor.fetchone()
        if row is None:
            return None
        found = self.row.instance(row[: len(self.row)], using=using)
        start = len(self.row)
        related = row[start : start + len(self.related)]
        parent = None if related[self._related_key] is None else self.related.instance(related, using=using)
        setattr(found, self.relation.name, parent)
        start += len(self.related)
        if self.then is not None:
            values = row[start : start + len(self.then_row)]
            start += len(self.then_row)
            if parent is not None:
                then = None if values[self._then_key] is None else self.then_row.instance(values, using=using)
                setattr(parent, self.then.name, then)
        for (owner, rel), columns in zip(self.also, self.also_rows, strict=True):
            values = row[start : start + len(columns)]
            start += len(columns)
            holder = found if owner == "t" else parent
            if holder is None:
                continue
            key = columns.attnames.index(rel.field.attname)
            other = None if values[key] is None else columns.instance(values, using=using)
            # What select_related caches: the row, or None (the accessor then raises DoesNotExist).
            rel.set_cached_value(holder, other)
            if other is not None:
                rel.field.set_cached_value(other, holder)
        return found


_UPDATES: dict[tuple, str] = {}


def row_update(instance, fields: Sequence[str], *, using: str = DEFAULT_DB_ALIAS) -> None:
    """`instance.save(update_fields=fields)` as one UPDATE by primary key whose SQL is written once per
    process: a turn saves its conversation and its protocol state this way, and Django compiling the
    same UPDATE on each turn cost more than the statement. Values are prepared by their fields as
    save() prepares them (`auto_now` included); a model with save signal receivers gets save() itself.
    Like save(update_fields=...), it raises DatabaseError if the row is gone."""
    model = type(instance)
    if signals.pre_save.has_listeners(model) or signals.post_save.has_listeners(model):
        instance.save(update_fields=fields, using=using)
        return
    connection = connections[using]
    meta = model._meta
    targets = [meta.get_field(name) for name in fields]
    key = (model, tuple(fields), connection.vendor)
    sql = _UPDATES.get(key)
    if sql is None:
        quote = connection.ops.quote_name
        assignments = ", ".join(f"{quote(field.column)} = %s" for field in targets)
        sql = _UPDATES[key] = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"  # noqa: S608
    params = [field.get_db_prep_save(field.pre_save(instance, False), connection) for field in targets]
    params.append(meta.pk.get_db_prep_value(instance.pk, connection))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if cursor.rowcount != 1:
            raise DatabaseError("Save with update_fields did not affect any rows.")


# INSERTs of a few rows, written once per (model, with primary keys or not, row count, vendor).
_INSERTS: dict[tuple, tuple[str, list, ModelColumns | None]] = {}
_MOST_ROWS = 16  # more than a turn or a session's first messages ever store at once: bulk_create's own way


def _insert_statement(model, with_pk: bool, count: int, connection) -> tuple[str, list, ModelColumns | None]:
    key = (model, with_pk, count, connection.vendor)
    found = _INSERTS.get(key)
    if found is None:
        meta = model._meta
        quote = connection.ops.quote_name
        # The fields Model._save_table and bulk_create insert: every local concrete one, the
        # auto-incremented key only when it is set.
        fields = [f for f in meta.local_concrete_fields if not f.generated and (with_pk or f is not meta.auto_field)]
        returning = meta.db_returning_fields
        returned = ModelColumns(model, quote(meta.db_table), [f.name for f in returning]) if returning else None
        row = "(" + ", ".join(["%s"] * len(fields)) + ")"
        sql = (
            f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)})"  # noqa: S608
            f" VALUES {', '.join([row] * count)}"
        )
        if returned is not None:
            sql += f" RETURNING {returned.select_list(connection)}"
        found = _INSERTS[key] = (sql, fields, returned)
    return found


def _insertable(model, objs, connection) -> bool:
    """Whether the INSERT below makes exactly what Django's would; otherwise the caller uses Django's."""
    meta = model._meta
    if not objs or len(objs) > _MOST_ROWS or meta.parents or meta.proxy or meta.order_with_respect_to:
        return False
    if not connection.features.can_return_rows_from_bulk_insert:
        return False
    for obj in objs:
        if type(obj) is not model or not obj._state.adding:
            return False
        for field in meta.local_concrete_fields:
            # Expressions (a database default among them) and fields with placeholders of their own
            # are compiled by Django.
            if field.generated or hasattr(field, "get_placeholder"):
                return False
            if hasattr(getattr(obj, field.attname), "resolve_expression"):
                return False
    return True


def _insert(model, objs, operation: str, using: str) -> None:
    connection = connections[using]
    meta = model._meta
    for obj in objs:
        if not obj._is_pk_set():
            obj.pk = meta.pk.get_pk_value_on_save(obj)
        obj._prepare_related_fields_for_save(operation_name=operation)
    with_pk = objs[0]._is_pk_set()
    if any(obj._is_pk_set() is not with_pk for obj in objs):
        raise ValueError("rows inserted together either all have their primary keys or none has")
    sql, fields, returned = _insert_statement(model, with_pk, len(objs), connection)
    params = [field.get_db_prep_save(field.pre_save(obj, True), connection) for obj in objs for field in fields]
    with transaction.mark_for_rollback_on_error(using=using), connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall() if returned is not None else []
    if returned is not None:
        for obj, row in zip(objs, rows, strict=True):
            for attname, value in zip(returned.attnames, returned.values(row, connection), strict=True):
                # bulk_create keeps a primary key it was given; save() takes what the database returns.
                if not (with_pk and operation == "bulk_create" and attname == meta.pk.attname):
                    setattr(obj, attname, value)
    for obj in objs:
        obj._state.adding = False
        obj._state.db = using


def rows_insert(objs: list, *, using: str = DEFAULT_DB_ALIAS) -> list:
    """`Model.objects.bulk_create(objs)` for a few new rows of one model (no signals, as bulk_create),
    as one INSERT whose SQL is written once per process: a turn stores its messages this way, and on
    PostgreSQL Django's bulk INSERT (arrays of every column, UNNESTed) cost several times the statement
    to build. Keys and database defaults come back as bulk_create sets them. Returns `objs`."""
    objs = list(objs)
    if not objs:
        return objs
    model = type(objs[0])
    if not _insertable(model, objs, connections[using]):
        return model._base_manager.using(using).bulk_create(objs)
    _insert(model, objs, "bulk_create", using)
    return objs


def row_insert(instance, *, using: str = DEFAULT_DB_ALIAS):
    """`instance.save(force_insert=True)` of a new row (what `Model.objects.create` does) as one INSERT
    whose SQL is written once per process; a model with save signal receivers gets save() itself.
    Returns `instance`."""
    model = type(instance)
    if (
        signals.pre_save.has_listeners(model)
        or signals.post_save.has_listeners(model)
        or not _insertable(model, [instance], connections[using])
    ):
        instance.save(force_insert=True, using=using)
        return instance
    _insert(model, [instance], "save", using)
    return instance
