from unittest import mock

import pytest
from django.db import DatabaseError

pytestmark = pytest.mark.django_db


def test_status_is_up_when_the_database_answers(einstein_anon):
    response = einstein_anon.get("/status")
    assert response.status_code == 200
    assert response.json() == {"status": "UP"}


def test_status_is_down_with_503_when_the_database_does_not_answer(einstein_anon):
    with mock.patch("sessions_app.api.einstein.views.connection.cursor", side_effect=DatabaseError("gone")):
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
