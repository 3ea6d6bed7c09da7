import datetime as dt
from unittest import mock

import pytest

from bots.engine.entities import extract, extract_builtin
from bots.engine.variables import coerce
from bots.models import EntityType

FIXED_NOW = dt.datetime(2026, 11, 20, 23, 30, tzinfo=dt.UTC)  # a Friday; already Saturday in Tokyo


def values(text, kind, **kwargs):
    return [e.value for e in extract_builtin(text, **kwargs) if e.type == kind]


def test_email_phone_url():
    text = "Mail Ann@Example.COM, call (415) 555-2671 or see www.example.com/help."
    assert values(text, "EMAIL") == ["ann@example.com"]
    assert values(text, "PHONE") == ["+14155552671"]
    assert values(text, "URL") == ["https://www.example.com/help"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("it was $30", "USD 30.00"),
        ("12.5 EUR", "EUR 12.50"),
        ("40 dollars", "USD 40.00"),
        ("USD 1,200.5", "USD 1200.50"),
    ],
)
def test_money_is_normalised(text, expected):
    assert values(text, "MONEY") == [expected]


def test_numbers_do_not_repeat_money():
    assert values("2 items for $30", "NUMBER") == [2]
    assert values("three point", "NUMBER") == [3]
    assert values("1,234.5 units", "NUMBER") == [1234.5]


@pytest.mark.parametrize(
    ("text", "utc", "tokyo"),
    [
        ("today", "2026-11-20", "2026-11-21"),
        ("tomorrow", "2026-11-21", "2026-11-22"),
        ("yesterday", "2026-11-19", "2026-11-20"),
        ("next monday", "2026-11-23", "2026-11-23"),
        ("2026-03-05", "2026-03-05", "2026-03-05"),
        ("March 5th 2025", "2025-03-05", "2025-03-05"),
        ("in 3 days", "2026-11-23", "2026-11-24"),
    ],
)
def test_dates_resolve_in_the_conversation_time_zone(text, utc, tokyo):
    with mock.patch("bots.engine.entities.dj_timezone.now", return_value=FIXED_NOW):
        assert values(text, "DATE", timezone="UTC") == [utc]
        assert values(text, "DATE", timezone="Asia/Tokyo") == [tokyo]


@pytest.mark.django_db
def test_custom_entity_types_match_values_and_synonyms(bot):
    speed = EntityType.objects.create(
        bot=bot, name="speed", values=[{"value": "express", "synonyms": ["next day", "fast"]}, {"value": "standard"}]
    )
    found = extract("Can I get it next day?", entity_types=[speed])
    assert [(e.type, e.value) for e in found] == [("speed", "express")]
    assert extract("slowly please", entity_types=[speed]) == []


@pytest.mark.parametrize(
    ("kind", "raw", "expected"),
    [
        ("boolean", "Yes", True),
        ("boolean", "nope", False),
        ("number", "about 42", 42),
        ("money", "$5", "USD 5.00"),
        ("date", "2026-01-02", "2026-01-02"),
        ("dateTime", "2026-01-02T03:04:05", "2026-01-02T03:04:05"),
        ("text", "hello", "hello"),
        ("ref", "1M5xx000000000BCAQ", "1M5xx000000000BCAQ"),
        ("object", '{"a": 1}', [{"name": "a", "type": "number", "value": 1}]),
        (
            "object",
            {"b": {"c": "x"}},
            [{"name": "b", "type": "object", "value": [{"name": "c", "type": "text", "value": "x"}]}],
        ),
        ("list", "red, green", [{"type": "text", "value": "red"}, {"type": "text", "value": "green"}]),
    ],
)
def test_every_variable_type_coerces(kind, raw, expected):
    assert coerce(kind, raw) == expected


@pytest.mark.parametrize(
    ("kind", "raw"), [("boolean", "maybe"), ("number", "none"), ("date", "someday"), ("object", "1")]
)
def test_bad_variable_values_are_refused(kind, raw):
    with pytest.raises(ValueError):
        coerce(kind, raw)
