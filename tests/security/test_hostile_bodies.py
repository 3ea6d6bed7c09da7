"""Bodies built to break the parser or the database get a 4xx in the protocol's shape, never a 500."""

import copy
import json

import pytest
from rest_framework.test import APIClient

from botportal.validation import MAX_JSON_DEPTH
from bots.models import Bot, Intent
from bots.services.bot_definitions import bot_export, bot_import
from bots.tests.factories import IntentFactory
from sessions_app.models import Contact, Conversation
from sessions_app.services.owners import owner_profile_ensure
from sessions_app.tests.apis.einstein.conftest import EinsteinClient, begin_body
from sessions_app.tests.apis.helpers import assert_error, post

pytestmark = pytest.mark.django_db

DEEP = 50_000
LONG = "x" * 5000


def nested(depth: int, leaf="1") -> str:
    return "[" * depth + leaf + "]" * depth


def raw_post(client, path, raw: str):
    return client.post(path, data=raw, content_type="application/json")


@pytest.mark.parametrize("depth", [DEEP, MAX_JSON_DEPTH + 1])
def test_deeply_nested_json_is_a_400_on_the_chatbotkit_routes(public_bot, owner_client, depth):
    body = '{"meta": {"x": ' + nested(depth) + "}}"
    assert_error(raw_post(APIClient(), f"/api/v1/bot/{public_bot.pk}/session/create", body), 400, "BAD_REQUEST")
    assert_error(raw_post(owner_client, "/api/v1/bot/import", body), 400, "BAD_REQUEST")
    assert_error(raw_post(owner_client, "/api/v1/contact/create", body), 400, "BAD_REQUEST")
    assert not Conversation.objects.exists() and not Contact.objects.exists()


def test_nesting_up_to_the_limit_is_accepted(public_bot):
    # The body object is one level; meta a second; the value fills the rest.
    body = '{"meta": {"x": ' + nested(MAX_JSON_DEPTH - 3) + "}}"
    response = raw_post(APIClient(), f"/api/v1/bot/{public_bot.pk}/session/create", body)
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("depth", [DEEP, MAX_JSON_DEPTH + 1])
def test_deeply_nested_json_is_a_spec_error_on_einstein_begin(api_secret, owner, bot, depth):
    einstein = EinsteinClient(api_secret, owner_profile_ensure(owner=owner).org_id)
    raw = json.dumps(begin_body())[:-1] + ', "variables": ' + nested(depth) + "}"
    response = einstein.post(f"/v5.0.0/bots/{bot.pk}/sessions", raw=raw)
    assert response.status_code == 400, response.content
    assert response.json()["status"] == 400
    assert not Conversation.objects.exists()


def test_deeply_nested_meta_filter_values_are_plain_text(owner_client):
    response = owner_client.get("/api/v1/conversation/list", {"meta.x": nested(DEEP)})
    assert response.status_code == 200 and response.json()["items"] == []


def test_an_admin_import_of_a_deep_document_is_invalid_input(owner):
    from botportal.errors import InvalidInput

    with pytest.raises(InvalidInput):
        bot_import(owner=owner, document=nested(DEEP))


@pytest.mark.parametrize(
    ("contact", "field"),
    [({"name": LONG}, "contact.name"), ({"email": "a" * 250 + "@example.com"}, "contact.email")],
)
def test_an_overlong_session_contact_is_a_400(public_bot, contact, field):
    response = post(APIClient(), f"/api/v1/bot/{public_bot.pk}/session/create", {"contact": contact})
    assert_error(response, 400, "BAD_REQUEST", field)
    assert not Conversation.objects.exists() and not Contact.objects.exists()


@pytest.mark.parametrize("field", ["name", "email", "nick", "fingerprint"])
def test_an_overlong_owner_contact_field_is_a_400(owner_client, field):
    value = "a" * 250 + "@example.com" if field == "email" else LONG
    for path in ("/api/v1/contact/create", "/api/v1/contact/ensure"):
        body = {"fingerprint": "fp-1", field: value}
        assert_error(post(owner_client, path, body), 400, "BAD_REQUEST", field)
    assert not Contact.objects.exists()


@pytest.fixture
def document(bot):
    IntentFactory(bot=bot, label="greet")
    exported = bot_export(bot=bot)
    exported["skillset"] = {"name": "Skills", "abilities": [{"name": "Look up", "instruction": "x"}]}
    exported["dataset"] = {"name": "Facts", "records": [{"text": "a fact"}]}
    exported["entityTypes"] = [{"name": "size", "values": [{"value": "small", "synonyms": []}]}]
    exported["variables"] = [{"name": "email", "type": "text"}]
    return exported


@pytest.mark.parametrize(
    ("where", "field"),
    [
        (lambda d: d["bot"], "bot.name"),
        (lambda d: d["bot"], "bot.model"),
        (lambda d: d["intents"][0], "intents.0.label"),
        (lambda d: d["entityTypes"][0], "entityTypes.0.name"),
        (lambda d: d["variables"][0], "variables.0.name"),
        (lambda d: d["variables"][0], "variables.0.entityType"),
        (lambda d: d["skillset"], "skillset.name"),
        (lambda d: d["skillset"]["abilities"][0], "skillset.abilities.0.name"),
        (lambda d: d["dataset"], "dataset.name"),
    ],
)
def test_overlong_names_in_an_imported_bot_are_a_400(owner_client, document, where, field):
    document = copy.deepcopy(document)
    key = field.rsplit(".", 1)[1]
    where(document)[key] = LONG
    bots, intents = Bot.objects.count(), Intent.objects.count()
    assert_error(post(owner_client, "/api/v1/bot/import", document), 400, "BAD_REQUEST", field)
    assert (Bot.objects.count(), Intent.objects.count()) == (bots, intents)


def test_the_document_within_its_limits_imports(owner_client, document):
    assert post(owner_client, "/api/v1/bot/import", document).status_code == 200


@pytest.mark.parametrize("field", ["name", "nick", "fingerprint"])
def test_the_contact_services_check_lengths_whoever_calls_them(owner, field):
    from botportal.errors import InvalidInput
    from sessions_app.services.owner_contacts import contact_create, contact_ensure

    with pytest.raises(InvalidInput) as raised:
        contact_create(owner=owner, fields={field: LONG})
    assert field in raised.value.fields
    with pytest.raises(InvalidInput):
        contact_ensure(owner=owner, fields={"fingerprint": "fp-1", field: LONG})
    assert not Contact.objects.exists()


@pytest.mark.parametrize("tz", [LONG, "x" * 65, 5])
def test_an_overlong_or_odd_time_zone_is_a_spec_error_on_einstein_begin(api_secret, owner, bot, tz):
    einstein = EinsteinClient(api_secret, owner_profile_ensure(owner=owner).org_id)
    response = einstein.begin(bot, tz=tz)
    assert response.status_code == 400, response.content
    assert "tz" in response.json()["message"]
    assert not Conversation.objects.exists()
