"""Typed variables: the nine kinds of the Einstein Bots runtime, checked the same way wherever they arrive.

A variable travels as `{"name": ..., "type": ..., "value": ...}`; every kind accepts a null value.
"""

import math
import re
from dataclasses import dataclass
from datetime import date, datetime

from botportal.errors import InvalidInput
from bots.models import VariableType

# Context variables are set by the channel, not defined by the bot, and are always accepted.
CONTEXT_PREFIX = "$Context."

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?$")
_MONEY = re.compile(r"^[A-Z]{3} -?\d+(\.\d+)?$")

TYPES = tuple(VariableType.values)


@dataclass(frozen=True)
class TypedValue:
    name: str
    type: str
    value: object


def value_problem(kind: str, value) -> str | None:
    """What is wrong with `value` as a `kind` value, or None when it fits."""
    if value is None:
        return None
    if kind == VariableType.BOOLEAN:
        return None if isinstance(value, bool) else "must be true, false or null"
    if kind == VariableType.NUMBER:
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        return None if ok else "must be a number"
    if kind in (VariableType.TEXT, VariableType.REF):
        return None if isinstance(value, str) else "must be a string"
    if kind == VariableType.DATE:
        if isinstance(value, str) and _DATE.match(value):
            try:
                date.fromisoformat(value)
                return None
            except ValueError:
                pass
        return "must be a date YYYY-MM-DD"
    if kind == VariableType.DATETIME:
        if isinstance(value, str) and _DATETIME.match(value):
            try:
                datetime.fromisoformat(value.replace("Z", "+00:00"))
                return None
            except ValueError:
                pass
        return "must be a date and time YYYY-MM-DDTHH:MM:SS"
    if kind == VariableType.MONEY:
        ok = isinstance(value, str) and _MONEY.match(value)
        return None if ok else "must be a currency code and an amount, e.g. 'USD 10.40'"
    if kind == VariableType.OBJECT:
        if not isinstance(value, list):
            return "must be a list of {name, type, value} variables"
        for index, item in enumerate(value):
            try:
                typed_variable_check(item, field=f"[{index}]")
            except InvalidInput as error:
                return "; ".join(f"{key}: {problem}" for key, problem in error.fields.items())
        return None
    if kind == VariableType.LIST:
        if not isinstance(value, list):
            return "must be a list of objects"
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                return f"[{index}] must be an object"
            if "type" in item:
                if item["type"] not in TYPES:
                    return f"[{index}].type must be one of {', '.join(TYPES)}"
                inner = value_problem(item["type"], item.get("value"))
                if inner:
                    return f"[{index}].value {inner}"
        return None
    return f"has an unknown type {kind!r}"


def value_check(*, kind: str, value, name: str) -> None:
    """Raise InvalidInput naming the variable when `value` is not a `kind` value."""
    problem = value_problem(kind, value)
    if problem:
        raise InvalidInput(f"Variable '{name}' {problem}.", fields={name: problem})


def typed_variable_check(item, *, field: str = "variables") -> TypedValue:
    """One `{name, type, value}` object, shape and value checked (no check that the bot defines it)."""
    if not isinstance(item, dict):
        raise InvalidInput(fields={field: "must be an object {name, type, value}"})
    unknown = sorted(set(item) - {"name", "type", "value"})
    if unknown:
        raise InvalidInput(fields={field: f"unknown field(s): {', '.join(unknown)}"})
    name = item.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidInput(fields={f"{field}.name": "is required and must be a non-empty string"})
    kind = item.get("type")
    if kind not in TYPES:
        raise InvalidInput(
            f"Variable '{name}' has type {kind!r}; the type must be one of {', '.join(TYPES)}.",
            fields={name: f"type must be one of {', '.join(TYPES)}"},
        )
    if "value" not in item:
        raise InvalidInput(f"Variable '{name}' has no value (use null for none).", fields={name: "value is required"})
    value_check(kind=kind, value=item["value"], name=name)
    return TypedValue(name=name, type=kind, value=item["value"])


def variables_validate(*, bot, variables) -> list[TypedValue]:
    """Variables sent to `bot`: each well-typed, and either a `$Context.*` variable or one the bot defines
    with the same type. Raises InvalidInput naming every offending variable."""
    if variables is None:
        return []
    if not isinstance(variables, list):
        raise InvalidInput(fields={"variables": "must be a list of {name, type, value} objects"})
    defined = dict(bot.variables.values_list("name", "type"))
    checked, problems = [], {}
    for index, item in enumerate(variables):
        try:
            typed = typed_variable_check(item, field=f"variables[{index}]")
        except InvalidInput as error:
            problems.update(error.fields)
            continue
        if typed.name.startswith(CONTEXT_PREFIX):
            checked.append(typed)
        elif typed.name not in defined:
            problems[typed.name] = "is not a variable this bot defines"
        elif defined[typed.name] != typed.type:
            problems[typed.name] = f"is a {defined[typed.name]} variable, not {typed.type}"
        else:
            checked.append(typed)
    if problems:
        raise InvalidInput(
            "Invalid variables: " + "; ".join(f"'{name}' {problem}" for name, problem in problems.items()),
            fields=problems,
        )
    return checked


def type_of(value) -> str:
    """The kind a value without a declared type is reported as."""
    if isinstance(value, bool):
        return VariableType.BOOLEAN
    if isinstance(value, int | float):
        return VariableType.NUMBER
    if isinstance(value, list):
        return VariableType.LIST
    if isinstance(value, dict):
        return VariableType.OBJECT
    return VariableType.TEXT
