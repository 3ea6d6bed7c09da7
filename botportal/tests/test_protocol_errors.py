"""Errors raised outside any view still answer in the shape of the protocol the path speaks."""

import json

import pytest
import yaml
from django.test import Client
from openapi_schema_validator import OAS30Validator

from sessions_app.protocols.einstein import SPEC_PATH

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/api/v1/nothing/here", "/v1/nothing/here", "/api/unknown"])
def test_unknown_chatbotkit_paths_are_json_404(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.json() == {"message": f"No resource at {path}.", "code": "NOT_FOUND"}


def test_unknown_einstein_path_is_an_error_object(client):
    response = client.get("/v5.0.0/nothing")
    assert response.status_code == 404
    assert response.json()["error"] == "NotFoundError"


def test_oversized_bodies_are_refused_before_any_work(client, settings):
    limit = settings.BOTPORTAL["MAX_BODY_BYTES"]
    body = "x" * (limit + 1)
    chatbotkit = client.post("/api/v1/bot/create", body, content_type="application/json")
    assert chatbotkit.status_code == 413
    assert chatbotkit.json()["code"] == "BAD_REQUEST"
    assert str(limit) in chatbotkit.json()["message"]
    einstein = client.post("/v5.0.0/bots/x/sessions", body, content_type="application/json")
    assert einstein.status_code == 400
    assert einstein.json()["error"] == "BadRequestError"


def test_admin_pages_keep_django_404(client):
    response = client.get("/admin-nothing/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


# --- as a real client sees them: CSRF checks on (Django's and DRF's test clients turn them off) ---------
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND"]


@pytest.fixture(params=[False, True], ids=["production", "debug"])
def real_client(request, settings):
    settings.DEBUG = request.param
    return Client(enforce_csrf_checks=True)


def _error_object_schema():
    document = yaml.safe_load(SPEC_PATH.read_text())
    return OAS30Validator(document["components"]["schemas"]["Error"])


@pytest.mark.parametrize(
    "path", ["/api/v1/no/such/route", "/v1/no/such/route", "/api/v1/bot/create/", "/api/nothing", "/api", "/v1"]
)
def test_any_method_on_an_unknown_chatbotkit_path_is_a_json_404(real_client, path):
    for method in METHODS:
        response = real_client.generic(method, path, data=b"{}", content_type="application/json")
        assert response.status_code == 404, (method, response.content[:200])
        assert response["Content-Type"] == "application/json"
        assert response.json() == {"message": f"No resource at {path}.", "code": "NOT_FOUND"}


@pytest.mark.parametrize("path", ["/v5.0.0/no/such/route", "/v5.0.0", "/v5.0.0/", "/status/x", "/versions/x"])
def test_any_method_on_an_unknown_einstein_path_is_the_specs_error_object(real_client, path):
    schema = _error_object_schema()
    for method in METHODS:
        response = real_client.generic(method, path, data=b"{}", content_type="application/json")
        assert response.status_code == 404, (method, response.content[:200])
        assert response["Content-Type"] == "application/json"
        body = response.json()
        schema.validate(body)
        assert body["error"] == "NotFoundError" and body["path"] == path and body["status"] == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/api/v1/bot/list"), ("GET", "/api/v1/bot/create"), ("PROPFIND", "/v1/bot/list"), ("PUT", "/api/health")],
)
def test_a_wrong_method_on_a_chatbotkit_route_is_its_405(real_client, method, path):
    response = real_client.generic(method, path)
    assert response.status_code == 405, response.content[:200]
    assert response.json()["code"] == "METHOD_NOT_ALLOWED"


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/status"), ("DELETE", "/versions"), ("GET", "/v5.0.0/bots/x/sessions"), ("PATCH", "/v5.0.0/sessions/x")],
)
def test_a_wrong_method_on_an_einstein_route_is_its_405(real_client, method, path):
    response = real_client.generic(method, path)
    assert response.status_code == 405, response.content[:200]
    body = response.json()
    _error_object_schema().validate(body)
    assert body["status"] == 405 and response["Allow"]


@pytest.mark.parametrize(
    ("path", "shape"), [("/api/v1/bot/list", {"message", "code"}), ("/v5.0.0/sessions/x", {"status", "error"})]
)
def test_errors_raised_before_any_view_answer_in_the_protocols_shape(client, settings, path, shape):
    # An unknown Host header is refused by the request itself (handler400), before URL resolution.
    settings.DEBUG = False
    response = client.get(path, HTTP_HOST="not-allowed.example")
    assert response.status_code == 400
    assert shape <= set(response.json())


@pytest.mark.parametrize(
    ("handler", "status"), [("handler400", 400), ("handler403", 403), ("csrf_failure", 403), ("handler500", 500)]
)
def test_root_handlers_answer_in_the_protocols_shape_and_html_elsewhere(rf, handler, status):
    from botportal.api import protocols

    view = getattr(protocols, handler)
    chatbotkit = view(rf.post("/api/v1/bot/create"), *([] if handler == "handler500" else [None]))
    assert chatbotkit.status_code == status and set(json.loads(chatbotkit.content)) == {"message", "code"}
    einstein = view(rf.post("/v5.0.0/bots/x/sessions"), *([] if handler == "handler500" else [None]))
    assert einstein.status_code == status
    _error_object_schema().validate(json.loads(einstein.content))
    elsewhere = view(rf.post("/admin/login/"), *([] if handler == "handler500" else [None]))
    assert elsewhere.status_code == status and elsewhere["Content-Type"].startswith("text/html")
