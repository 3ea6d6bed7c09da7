import json
from unittest import mock

import pytest
from django.db import DatabaseError

pytestmark = pytest.mark.django_db


def test_status_is_up_when_the_database_answers(einstein_anon):
    response = einstein_anon.get("/status")
    assert response.status_code == 200
    assert response.json() == {"status": "UP"}


def test_status_is_down_with_503_when_the_database_does_not_answer(einstein_anon):
    with mock.patch("sessions_app.protocols.einstein.views.connection.cursor", side_effect=DatabaseError("gone")):
        response = einstein_anon.get("/status", headers={"X-Request-ID": "health-1"})
    assert response.status_code == 503
    body = response.json()
    assert body["error"] == "ServiceUnavailable" and body["message"].startswith("DOWN")
    assert body["requestId"] == "health-1" and response["X-Request-ID"] == "health-1"


def test_versions_lists_5_0_0_as_active(einstein_anon):
    response = einstein_anon.get("/versions")
    assert response.status_code == 200
    assert response.json() == {"versions": [{"versionNumber": "5.0.0", "status": "ACTIVE"}]}


def test_wrong_method_is_an_error_object_not_html(einstein_anon):
    response = einstein_anon.post("/versions", {})
    assert response.status_code == 405
    assert response.json()["error"] == "BadRequestError"
    assert response["Allow"] == "GET"


@pytest.mark.parametrize("path", ["/v5.0.0", "/v5.0.0/", "/v5.0.0/nothing/here", "/v5.0.0/bots/x/sessions/"])
def test_unknown_paths_under_the_version_are_404_error_objects(einstein, path):
    response = einstein.get(path, headers={"X-Request-ID": "r-404"})
    assert response.status_code == 404
    body = response.json()
    assert body["error"] == "NotFoundError" and body["path"] == path and body["requestId"] == "r-404"


@pytest.mark.parametrize("path", ["/status/", "/versions/x"])
def test_near_misses_of_status_and_versions_are_404_error_objects(einstein_anon, path):
    response = einstein_anon.get(path)
    assert response.status_code == 404 and response.json()["error"] == "NotFoundError"


def test_root_handlers_render_this_protocols_paths_only(rf):
    from sessions_app.protocols.einstein.errors import einstein_handler404, einstein_handler500

    from .conftest import validate

    request = rf.get("/v5.0.0/whatever", HTTP_X_REQUEST_ID="abc")
    response = einstein_handler404(request)
    validate(request, response)
    assert response.status_code == 404 and response["X-Request-ID"] == "abc"
    body = json.loads(response.content)
    assert body["requestId"] == "abc" and body["error"] == "NotFoundError"
    request = rf.post("/v5.0.0/sessions/x/messages")
    failed = einstein_handler500(request)
    validate(request, failed)
    assert failed.status_code == 500 and json.loads(failed.content)["error"] == "RequestProcessingException"
    assert einstein_handler404(rf.get("/api/v1/whatever")) is None
    assert einstein_handler500(rf.get("/admin/")) is None


def test_an_unexpected_failure_is_a_500_error_object_not_html(einstein_anon):
    with mock.patch("sessions_app.protocols.einstein.views.JsonResponse", side_effect=RuntimeError("boom")):
        response = einstein_anon.get("/versions")
    assert response.status_code == 500
    assert response.json()["error"] == "RequestProcessingException" and "boom" not in response.json()["message"]
