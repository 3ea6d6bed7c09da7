"""Errors raised outside any view still answer in the shape of the protocol the path speaks."""

import pytest

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
