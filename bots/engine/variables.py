"""The nine variable kinds: turning an entity, a typed-in answer or a configured value into a stored value."""

import datetime as dt
import json
import logging

from bots.variables import type_of, value_problem

from .definition import definition_for
from .entities import extract_builtin, money_value, number_value

TRUE_WORDS = {"yes", "y", "true", "yeah", "yep", "sure", "ok", "okay", "correct", "right", "1"}
FALSE_WORDS = {"no", "n", "false", "nope", "nah", "wrong", "incorrect", "0"}
CONTACT_FIELDS = ("name", "email", "phone")

logger = logging.getLogger(__name__)


def coerce(kind: str, value, *, timezone: str = "UTC"):
    """The value stored for a variable of `kind`; raises ValueError when `value` cannot be one.

    Whatever comes out also passes `bots.variables.value_problem`, the check every protocol applies.
    """
    result = _coerce(kind, value, timezone)
    problem = value_problem(kind, result)
    if problem:
        raise ValueError(problem)
    return result


def _typed(value) -> list:
    """A JSON object as the runtime's object value: a list of {name, type, value}."""
    items = []
    for name, item in value.items():
        kind = type_of(item)
        items.append({"name": str(name), "type": kind, "value": _typed(item) if kind == "object" else item})
    return items


def _coerce(kind: str, value, timezone: str):
    if value is None:
        return None
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        word = str(value).strip().lower().rstrip(".!")
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ValueError("expected yes or no")
    if kind == "number":
        if isinstance(value, bool):
            raise ValueError("expected a number")
        if isinstance(value, int | float):
            return value
        found = extract_builtin(str(value), types=("NUMBER",))
        if not found:
            raise ValueError("expected a number")
        return found[0].value
    if kind == "money":
        text = str(value).strip()
        found = extract_builtin(text, types=("MONEY",))
        if found:
            return found[0].value
        parsed = number_value(text)
        if parsed is None:
            raise ValueError("expected an amount such as 'USD 30.00'")
        return money_value(str(parsed), "USD")
    if kind == "date":
        if isinstance(value, dt.date):
            return value.isoformat()
        found = extract_builtin(str(value), types=("DATE",), timezone=timezone)
        if not found:
            raise ValueError("expected a date (YYYY-MM-DD)")
        return found[0].value
    if kind == "dateTime":
        if isinstance(value, dt.datetime):
            return value.replace(tzinfo=None, microsecond=0).isoformat()
        try:
            return dt.datetime.fromisoformat(str(value).strip()).replace(tzinfo=None, microsecond=0).isoformat()
        except ValueError:
            found = extract_builtin(str(value), types=("DATE",), timezone=timezone)
            if not found:
                raise ValueError("expected a date and time (YYYY-MM-DDTHH:MM:SS)") from None
            return f"{found[0].value}T00:00:00"
    if kind in ("text", "ref"):
        if isinstance(value, dict | list):
            raise ValueError(f"expected {kind}")
        return str(value)
    if kind == "object":
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise ValueError("expected an object") from None
        if isinstance(value, dict):
            return _typed(value)
        if not isinstance(value, list):
            raise ValueError("expected an object")
        return value
    if kind == "list":
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                value = [{"type": "text", "value": part.strip()} for part in value.split(",") if part.strip()]
        if not isinstance(value, list):
            raise ValueError("expected a list")
        return value
    raise ValueError(f"unknown variable type {kind!r}")


def contact_variables(bot, contact) -> dict:
    """Variables filled from the contact a conversation is opened for, so the bot never asks what it knows.

    A variable named like a contact field (`name`, `email`, `phone`, in any case) takes that field; the
    bot's `meta.contactVariables` ({"variable": "field"}) maps others, e.g. {"customerEmail": "email"}.
    """
    if contact is None:
        return {}
    definition = definition_for(bot)
    mapping = {name: name.casefold() for name in definition.variables if name.casefold() in CONTACT_FIELDS}
    mapped = (bot.meta or {}).get("contactVariables") if isinstance(bot.meta, dict) else None
    if isinstance(mapped, dict):
        mapping.update({n: str(f).casefold() for n, f in mapped.items() if n in definition.variables})
    values = {}
    for name, field in mapping.items():
        value = getattr(contact, field, None) if field in CONTACT_FIELDS else None
        if value in (None, ""):
            continue
        try:
            values[name] = coerce(definition.variables[name].type, value)
        except ValueError:
            logger.info("Bot %s: contact %s does not fit variable %s", bot.pk, field, name)
    return values
