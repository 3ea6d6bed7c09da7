"""The ChatBotKit v1 wire rules that hold for every route: JSON errors, methods, bodies, both prefixes."""

import pytest
from django.test import override_settings

from sessions_app.tests.apis.helpers import PREFIXES, assert_error

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("method", ["get", "post", "delete", "put"])
def test_unknown_route_is_a_json_404(owner_client, prefix, method):
    response = getattr(owner_client, method)(f"{prefix}/no/such/route")
    assert_error(response, 404, "NOT_FOUND", "/no/such/route")


@override_settings(DEBUG=True)
def test_unknown_route_is_json_in_debug_mode_too(anon_client):
    assert_error(anon_client.get("/api/v1/nothing-here"), 404, "NOT_FOUND")


def test_handler404_answers_json_under_the_api_and_html_elsewhere(rf):
    from botportal.api.protocols import handler404

    response = handler404(rf.get("/api/v1/x"), None)
    assert response.status_code == 404 and response["Content-Type"] == "application/json"
    assert handler404(rf.get("/somewhere"), None)["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("prefix", PREFIXES)
def test_wrong_method_is_405(owner_client, bot, prefix):
    assert_error(owner_client.get(f"{prefix}/bot/create"), 405, "METHOD_NOT_ALLOWED")
    assert_error(owner_client.post(f"{prefix}/bot/list"), 405, "METHOD_NOT_ALLOWED")
    assert_error(owner_client.delete(f"{prefix}/bot/{bot.pk}/fetch"), 405, "METHOD_NOT_ALLOWED")
    assert_error(owner_client.get(f"{prefix}/bot/{bot.pk}/session/create"), 405, "METHOD_NOT_ALLOWED")


def test_malformed_json_is_400(owner_client, public_bot):
    response = owner_client.post(
        f"/api/v1/bot/{public_bot.pk}/session/create", data="{not json", content_type="application/json"
    )
    assert_error(response, 400, "BAD_REQUEST")
    assert_error(owner_client.post("/api/v1/bot/create", data="{", content_type="application/json"), 400, "BAD_REQUEST")


@pytest.mark.parametrize("body", ["[]", '"text"', "5", "null"])
def test_body_that_is_not_an_object_is_400(owner_client, body):
    response = owner_client.post("/api/v1/bot/create", data=body, content_type="application/json")
    assert_error(response, 400, "BAD_REQUEST")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"])
def test_wrong_content_type_is_400(owner_client, content_type):
    response = owner_client.post("/api/v1/bot/create", data="name=x", content_type=content_type)
    assert_error(response, 400, "BAD_REQUEST", "application/json")


def test_body_without_content_type_is_400(owner_client):
    response = owner_client.generic("POST", "/api/v1/bot/create", data=b'{"name": "x"}', content_type="")
    assert_error(response, 400, "BAD_REQUEST")


def test_empty_body_counts_as_an_empty_object(anon_client, public_bot):
    response = anon_client.generic("POST", f"/api/v1/bot/{public_bot.pk}/session/create", content_type="")
    assert response.status_code == 200


def test_malformed_authorization_header_is_401(anon_client, public_bot):
    anon_client.credentials(HTTP_AUTHORIZATION="Basic abc")
    assert_error(anon_client.post(f"/api/v1/bot/{public_bot.pk}/session/create"), 401, "NOT_AUTHENTICATED")


def test_success_answers_are_application_json(owner_client):
    response = owner_client.get("/api/v1/bot/list")
    assert response["Content-Type"] == "application/json"


def test_accept_jsonl_on_a_plain_route_still_answers_json(owner_client):
    response = owner_client.get("/api/v1/bot/list", HTTP_ACCEPT="application/jsonl")
    assert response.status_code == 200 and response.json() == {"items": []}


def test_schema_generation_validates_without_warnings(tmp_path):
    from django.core.management import call_command

    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    text = target.read_text()
    for route in (
        "/api/v1/bot/{bot_id}/session/create:",
        "/api/v1/conversation/{conversation_id}/complete:",
        "/api/v1/conversation/{conversation_id}/message/list:",
        "/v1/conversation/{conversation_id}/session/refresh:",
        "/api/v1/contact/ensure:",
        "/api/v1/dataset/{parent_id}/record/list:",
    ):
        assert route in text


def test_body_over_the_limit_is_refused(owner_client, settings):
    limit = settings.BOTPORTAL["MAX_BODY_BYTES"]
    response = owner_client.post("/api/v1/bot/create", {"name": "x", "backstory": "y" * limit}, format="json")
    assert response.status_code == 413
    assert "limit" in response.json()["message"]
    from bots.models import Bot

    assert not Bot.objects.exists()
