import pytest

from botportal.errors import InvalidInput
from bots.tests.factories import VariableFactory
from bots.variables import type_of, typed_variable_check, value_problem, variables_validate


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("boolean", False),
        ("date", "2024-02-29"),
        ("dateTime", "2024-02-29T23:59:59"),
        ("dateTime", "2024-02-29T23:59:59.123Z"),
        ("money", "EUR -3"),
        ("number", 1.5),
        ("text", ""),
        ("object", []),
        ("ref", "001"),
        ("list", [{"any": "object"}]),
    ],
)
def test_values_that_fit(kind, value):
    assert value_problem(kind, value) is None


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("boolean", 0),
        ("date", "2023-02-29"),
        ("dateTime", "2024-02-29 23:59"),
        ("money", "EUR"),
        ("number", float("nan")),
        ("list", [{"type": "number", "value": "x"}]),
        ("mystery", 1),
    ],
)
def test_values_that_do_not_fit(kind, value):
    assert value_problem(kind, value)


def test_typed_variable_check_names_the_variable():
    with pytest.raises(InvalidInput, match="'age'"):
        typed_variable_check({"name": "age", "type": "number", "value": "ten"})


@pytest.mark.django_db
def test_variables_validate_collects_every_problem(bot):
    VariableFactory(bot=bot, name="age", type="number")
    with pytest.raises(InvalidInput) as caught:
        variables_validate(
            bot=bot,
            variables=[
                {"name": "age", "type": "number", "value": "ten"},
                {"name": "nope", "type": "text", "value": "x"},
            ],
        )
    assert set(caught.value.fields) == {"age", "nope"}
    assert variables_validate(bot=bot, variables=None) == []


def test_type_of():
    kinds = [type_of(v) for v in (True, 1, 2.5, "x", [], {})]
    assert kinds == ["boolean", "number", "number", "text", "list", "object"]
