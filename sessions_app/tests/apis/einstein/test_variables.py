import pytest

from bots.tests.factories import VariableFactory
from sessions_app.models import Conversation

pytestmark = pytest.mark.django_db

ALL_OPTIONS = {"variables": {"include": True, "onlyChanged": False}}

VALID = [
    ("boolean", True),
    ("date", "2021-09-21"),
    ("dateTime", "2018-09-21T14:30:00"),
    ("money", "USD 10.40"),
    ("number", 10),
    ("text", "Thanks for your order!"),
    ("object", [{"name": "fullName", "type": "text", "value": "Matt Smith"}]),
    ("ref", "1M5xx000000000BCAQ"),
    ("list", [{"type": "ref", "value": "1M5xx000000000BCAQ"}]),
]

INVALID = [
    ("boolean", "yes"),
    ("date", "21/09/2021"),
    ("date", "2021-02-30"),
    ("dateTime", "2018-09-21"),
    ("money", "10.40"),
    ("money", "usd 10"),
    ("number", "10"),
    ("number", True),
    ("text", 5),
    ("object", {"fullName": "Matt"}),
    ("object", [{"name": "x", "type": "number", "value": "nope"}]),
    ("ref", 42),
    ("list", "a,b"),
    ("list", [1, 2]),
]


@pytest.fixture
def typed_bot(bot):
    for kind, _ in VALID:
        VariableFactory(bot=bot, name=f"v_{kind}", type=kind)
    return bot


def test_every_kind_is_accepted_stored_and_returned_typed(einstein, typed_bot):
    sent = [{"name": f"v_{kind}", "type": kind, "value": value} for kind, value in VALID]
    sent.append({"name": "$Context.Channel", "type": "text", "value": "web"})
    response = einstein.begin(typed_bot, variables=sent, responseOptions=ALL_OPTIONS)
    assert response.status_code == 200, response.json()
    returned = {v["name"]: v for v in response.json()["variables"]}
    for item in sent:
        assert returned[item["name"]] == item
    conversation = Conversation.objects.get(pk=response.json()["sessionId"])
    assert conversation.variables["v_money"] == "USD 10.40"
    assert conversation.variables["$Context.Channel"] == "web"


def test_null_is_a_value_of_every_kind(einstein, typed_bot):
    sent = [{"name": f"v_{kind}", "type": kind, "value": None} for kind, _ in VALID]
    assert einstein.begin(typed_bot, variables=sent).status_code == 200


@pytest.mark.parametrize(("kind", "value"), INVALID)
def test_a_value_that_does_not_match_its_type_is_a_400_naming_the_variable(einstein, typed_bot, kind, value):
    response = einstein.begin(typed_bot, variables=[{"name": f"v_{kind}", "type": kind, "value": value}])
    assert response.status_code == 400
    assert f"v_{kind}" in response.json()["message"]
    assert not Conversation.objects.exists()


def test_names_must_be_defined_by_the_bot_unless_context(einstein, typed_bot):
    response = einstein.begin(typed_bot, variables=[{"name": "Undefined", "type": "text", "value": "x"}])
    assert response.status_code == 400 and "Undefined" in response.json()["message"]
    response = einstein.begin(typed_bot, variables=[{"name": "$Context.Anything", "type": "number", "value": 3}])
    assert response.status_code == 200


def test_the_type_must_be_the_one_the_bot_defines(einstein, typed_bot):
    response = einstein.begin(typed_bot, variables=[{"name": "v_number", "type": "text", "value": "3"}])
    assert response.status_code == 400 and "v_number" in response.json()["message"]


@pytest.mark.parametrize(
    "item",
    [
        {"name": "v_text", "type": "string", "value": "x"},
        {"name": "v_text", "type": "text"},
        {"type": "text", "value": "x"},
        {"name": "v_text", "type": "text", "value": "x", "extra": 1},
        "v_text=x",
    ],
)
def test_malformed_variables(einstein, typed_bot, item):
    assert einstein.begin(typed_bot, variables=[item]).status_code == 400


def test_filter_and_only_changed(einstein, typed_bot):
    VariableFactory(bot=typed_bot, name="withDefault", type="text", default="preset")
    sent = [{"name": "v_number", "type": "number", "value": 3}]
    body = einstein.begin(
        typed_bot,
        variables=sent,
        responseOptions={"variables": {"include": True, "onlyChanged": True}},
    ).json()
    assert body["variables"] == sent
    body = einstein.begin(
        typed_bot,
        variables=sent,
        responseOptions={"variables": {"include": True, "onlyChanged": False, "filter": ["withDefault"]}},
    ).json()
    assert body["variables"] == [{"name": "withDefault", "type": "text", "value": "preset"}]
    body = einstein.begin(
        typed_bot, variables=sent, responseOptions={"variables": {"include": False, "onlyChanged": False}}
    ).json()
    assert "variables" not in body


def test_response_options_variables_needs_include_and_only_changed(einstein, typed_bot):
    response = einstein.begin(typed_bot, responseOptions={"variables": {"include": True}})
    assert response.status_code == 400 and "onlyChanged" in response.json()["message"]
