"""Model instances from hand-written SQL, loaded exactly as Django's own queries load them.

For the few lookups every API request makes, Django compiling the same query again on each request
costs several times the query itself (docs/performance.md). Those lookups write their SQL once, from
the models' own columns, and turn each row back into instances here: each field's database
converters applied (JSON, and on SQLite dates, UUIDs and booleans), then `Model.from_db`, so the
instances are the ones an ORM query would have made.
"""

from functools import cached_property

from django.db import connections


class ModelColumns:
    """Every concrete column of `model` under the table alias `alias`, in field order."""

    def __init__(self, model, alias: str):
        self.model = model
        self.alias = alias
        self.fields = model._meta.concrete_fields
        self.attnames = [field.attname for field in self.fields]

    def __len__(self) -> int:
        return len(self.fields)

    @property
    def table(self) -> str:
        return self.model._meta.db_table

    def column(self, name: str, connection) -> str:
        """`alias."column"` of the field called `name` (or its attname)."""
        field = self.model._meta.get_field(name)
        return f"{self.alias}.{connection.ops.quote_name(field.column)}"

    def select_list(self, connection) -> str:
        return ", ".join(f"{self.alias}.{connection.ops.quote_name(field.column)}" for field in self.fields)

    def _converters(self, connection) -> list[tuple[int, list, object]]:
        by_vendor = self._converters_by_vendor
        if connection.vendor not in by_vendor:
            converters = []
            for index, field in enumerate(self.fields):
                column = field.get_col(self.alias)
                found = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
                if found:
                    converters.append((index, found, column))
            by_vendor[connection.vendor] = converters
        return by_vendor[connection.vendor]

    @cached_property
    def _converters_by_vendor(self) -> dict:
        return {}

    def instance(self, values, *, using: str = "default"):
        """The model instance for this model's slice of a row."""
        connection = connections[using]
        values = list(values)
        for index, converters, column in self._converters(connection):
            for converter in converters:
                values[index] = converter(values[index], column, connection)
        return self.model.from_db(using, self.attnames, values)
