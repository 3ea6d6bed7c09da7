"""Every response these tests receive is validated against the Einstein Bots v5.0.0 spec file itself.

The spec ships with the adapter (`sessions_app/protocols/einstein/spec/`, with its licence); a missing file
fails the tests rather than skipping the validation.
"""

import json
from dataclasses import dataclass
from functools import lru_cache

import pytest
import yaml
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound
from openapi_schema_validator import OAS30Validator
from rest_framework.test import APIClient
from werkzeug.datastructures import Headers, ImmutableMultiDict

from sessions_app.protocols.einstein import SPEC_PATH
from sessions_app.services.owners import owner_profile_ensure


@lru_cache(maxsize=1)
def _spec():
    if not SPEC_PATH.is_file():
        pytest.fail(f"The Einstein Bots spec is missing: {SPEC_PATH}")
    document = yaml.safe_load(SPEC_PATH.read_text())
    return OpenAPI.from_file_path(str(SPEC_PATH)), document


@dataclass
class _Request:
    """A request as openapi-core sees it, addressed to the spec's own server so that paths resolve."""

    host_url: str
    path: str
    method: str
    parameters: RequestParameters
    body: bytes | None
    content_type: str


@dataclass
class _Response:
    status_code: int
    data: bytes
    headers: Headers
    content_type: str


def validate(request, response) -> None:
    """Fail unless the response (status, headers, body) is what the spec allows for that request."""
    openapi, document = _spec()
    wrapped_request = _Request(
        host_url=document["servers"][0]["url"],
        path=request.path,
        method=request.method.lower(),
        parameters=RequestParameters(
            query=ImmutableMultiDict(request.GET), header=Headers(dict(request.headers)), cookie=ImmutableMultiDict()
        ),
        body=None,
        content_type=request.content_type or "",
    )
    wrapped_response = _Response(
        status_code=response.status_code,
        data=response.content,
        headers=Headers(dict(response.headers)),
        content_type=response.get("Content-Type", ""),
    )
    assert response.get("Content-Type", "").startswith("application/json"), response.get("Content-Type")
    try:
        openapi.validate_response(wrapped_request, wrapped_response)
    except (PathNotFound, OperationNotFound):
        # A path or method the spec does not describe can only answer with its Error object.
        OAS30Validator(document["components"]["schemas"]["Error"]).validate(json.loads(response.content))


class EinsteinClient:
    """A test client that validates every response against the spec and sends the org id by default."""

    def __init__(self, secret: str | None, org_id: str | None):
        self.client = APIClient()
        self.secret = secret
        self.org_id = org_id

    def _headers(self, headers: dict) -> dict:
        extra = {}
        if self.secret is not None:
            extra["HTTP_AUTHORIZATION"] = f"Bearer {self.secret}"
        if self.org_id is not None:
            extra["HTTP_X_ORG_ID"] = self.org_id
        for name, value in headers.items():
            key = "HTTP_" + name.upper().replace("-", "_")
            if value is None:
                extra.pop(key, None)
            else:
                extra[key] = value
        return extra

    def _checked(self, response):
        validate(response.wsgi_request, response)
        return response

    def get(self, path, headers=None):
        return self._checked(self.client.get(path, **self._headers(headers or {})))

    def post(self, path, body=None, headers=None, raw: bytes | str | None = None, content_type="application/json"):
        data = raw if raw is not None else json.dumps(body)
        response = self.client.post(path, data=data, content_type=content_type, **self._headers(headers or {}))
        return self._checked(response)

    def delete(self, path, headers=None):
        return self._checked(self.client.delete(path, **self._headers(headers or {})))

    def begin(self, bot, body=None, headers=None, **fields):
        payload = body if body is not None else begin_body(**fields)
        return self.post(f"/v5.0.0/bots/{bot.pk}/sessions", payload, headers=headers)

    def send(self, session_id, message, headers=None, **extra):
        return self.post(f"/v5.0.0/sessions/{session_id}/messages", {"message": message, **extra}, headers=headers)

    def end(self, session_id, reason="UserRequest", headers=None):
        headers = {"X-Session-End-Reason": reason, **(headers or {})}
        return self.delete(f"/v5.0.0/sessions/{session_id}", headers=headers)


def begin_body(**fields) -> dict:
    body = {
        "externalSessionKey": "5a7d1c3e-0000-4000-8000-000000000001",
        "forceConfig": {"endpoint": "https://example.my.salesforce.com/"},
    }
    body.update(fields)
    return body


@pytest.fixture
def org_id(owner):
    return owner_profile_ensure(owner=owner).org_id


@pytest.fixture
def einstein(api_secret, org_id):
    return EinsteinClient(api_secret, org_id)


@pytest.fixture
def einstein_anon(org_id):
    return EinsteinClient(None, org_id)


@pytest.fixture
def einstein_other(other_api_secret, other_owner):
    return EinsteinClient(other_api_secret, owner_profile_ensure(owner=other_owner).org_id)
