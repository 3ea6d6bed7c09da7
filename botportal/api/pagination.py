"""Cursor pagination and `meta.<key>` filters in the ChatBotKit v1 style.

Query: `cursor` (the id of the last item of the previous page), `order` (`asc` | `desc`), `take`
(1..100) and `meta.<key>=<value>` equality filters. The answer is `{"items": [...], "cursor": <last id>}`,
the cursor left out on an empty page.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.db.models.fields.json import KeyTransform

from botportal import validation
from botportal.errors import InvalidInput

MAX_TAKE = 100
META_PREFIX = "meta."
# A key starting with "_" is botportal's own and never a filter (see validation.meta).
_META_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,127}$")


@dataclass
class Page:
    items: list
    cursor: str | None


def _take(value) -> int:
    if value is None or value == "":
        return MAX_TAKE
    try:
        take = int(value)
    except ValueError:
        take = 0
    if not 1 <= take <= MAX_TAKE:
        raise InvalidInput(fields={"take": f"must be a whole number from 1 to {MAX_TAKE}"})
    return take


def _order(value, default: str) -> str:
    if value is None or value == "":
        return default
    if value not in ("asc", "desc"):
        raise InvalidInput(fields={"order": "must be 'asc' or 'desc'"})
    return value


def meta_filter(queryset: QuerySet, params) -> QuerySet:
    """Apply every `meta.<key>=<value>` query parameter as an equality filter on the meta object.

    The key is one plain JSON key (a KeyTransform), never part of an ORM lookup string: `meta.contains`,
    `meta.isnull`, `meta.regex` and `meta.a__b` all name keys, and can only ever compare for equality.
    """
    filters = sorted((k, v) for k, v in params.items() if k.startswith(META_PREFIX))
    for index, (name, value) in enumerate(filters):
        key = name[len(META_PREFIX) :]
        # Digits alone would be read as an array index by Django's JSON key transforms, not as a key.
        if not _META_KEY.match(key) or key.isdigit():
            raise InvalidInput(fields={name: "is not a valid meta key"})
        validation.refuse_unstorable(value, name)
        # A query string carries text; `meta.count=5` should also find the number 5 and `meta.ok=true` the boolean.
        candidates = [value]
        try:
            parsed = validation.json_loads(value)
        except ValueError:
            parsed = value
        if isinstance(parsed, bool | int | float) and not isinstance(parsed, str):
            candidates.append(parsed)
        alias = f"meta_filter_{index}"
        condition = Q()
        for candidate in candidates:
            condition |= Q(**{alias: candidate})
        queryset = queryset.alias(**{alias: KeyTransform(key, "meta")}).filter(condition)
    return queryset


def paginate(queryset: QuerySet, params, *, default_order: str = "desc", sequential: bool = False) -> Page:
    """One page of `queryset`, which must already be scoped to what the caller may see.

    `queryset` may yield model instances or `.values()` rows that include "id".
    `sequential` models (integer keys in acceptance order) page by id alone; the others by
    (created_at, id). The cursor is looked up inside the same scoped queryset, so an id the caller
    may not see is refused like an unknown one.
    """
    take, order = validated_page_params(params, default_order=default_order)
    queryset = meta_filter(queryset, params)
    cursor = params.get("cursor")
    if cursor:
        queryset = _after(queryset, cursor, order=order, sequential=sequential)
    if sequential:
        ordering = ["id"] if order == "asc" else ["-id"]
    else:
        ordering = ["created_at", "id"] if order == "asc" else ["-created_at", "-id"]
    return _page(list(queryset.order_by(*ordering)[:take]))


def paginate_fetched(
    params, *, fetch: Callable[..., list], queryset: Callable[[], QuerySet], default_order: str = "desc"
) -> Page:
    """`paginate(queryset(), params, sequential=True)` for a list that reads its own pages.

    `fetch(take=, order=, after=)` returns the rows `queryset()` would give, ordered by id after the id
    `after` (a hand-written statement for the hottest list). The queryset is only built when a meta
    filter or a cursor needs it.
    """
    if any(name.startswith(META_PREFIX) for name in params):
        return paginate(queryset(), params, default_order=default_order, sequential=True)
    take, order = validated_page_params(params, default_order=default_order)
    cursor = params.get("cursor")
    after = _sequential_cursor(queryset(), cursor) if cursor else None
    return _page(fetch(take=take, order=order, after=after))


def _page(items: list) -> Page:
    if not items:
        return Page(items=items, cursor=None)
    last = items[-1]
    return Page(items=items, cursor=str(last["id"] if isinstance(last, dict) else last.pk))


def validated_page_params(params, *, default_order: str) -> tuple[int, str]:
    problems = {}
    take = order = None
    try:
        take = _take(params.get("take"))
    except InvalidInput as error:
        problems.update(error.fields)
    try:
        order = _order(params.get("order"), default_order)
    except InvalidInput as error:
        problems.update(error.fields)
    if problems:
        raise InvalidInput(fields=problems)
    return take, order


def _unknown_cursor() -> InvalidInput:
    return InvalidInput(fields={"cursor": "is not the id of an item of this list"})


def _sequential_cursor(queryset: QuerySet, cursor: str) -> int:
    """The integer id a cursor names, which must be an item of `queryset`."""
    try:
        key = int(cursor)
    except ValueError:
        raise _unknown_cursor() from None
    if not queryset.filter(pk=key).exists():
        raise _unknown_cursor()
    return key


def _after(queryset: QuerySet, cursor: str, *, order: str, sequential: bool) -> QuerySet:
    if sequential:
        key = _sequential_cursor(queryset, cursor)
        return queryset.filter(pk__gt=key) if order == "asc" else queryset.filter(pk__lt=key)
    unknown = _unknown_cursor()
    key = validation.uuid_or_none(cursor)
    if key is None:
        raise unknown
    created_at = queryset.filter(pk=key).values_list("created_at", flat=True).first()
    if created_at is None:
        raise unknown
    if order == "asc":
        return queryset.filter(Q(created_at__gt=created_at) | Q(created_at=created_at, pk__gt=key))
    return queryset.filter(Q(created_at__lt=created_at) | Q(created_at=created_at, pk__lt=key))
