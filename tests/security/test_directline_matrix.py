"""Authorization matrix of Direct Line: every /v3/directline route, every kind of credential.

The route list is read from the URL resolver and compared with DIRECTLINE_ROUTES, so a new route fails
this module until it is placed in the matrix."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import URLResolver, get_resolver
from django.utils import timezone

from bots.tests.factories import BotFactory
from sessions_app.models import BotSession
from sessions_app.protocols.directline.services import directline_conversation_start, directline_secret_create
from sessions_app.services.owners import api_key_create

pytestmark = pytest.mark.django_db

# name: (route under /v3/directline/, the methods it serves)
DIRECTLINE_ROUTES = {
    "tokens-generate": ("tokens/generate", ["POST"]),
    "tokens-refresh": ("tokens/refresh", ["POST"]),
    "conversations": ("conversations", ["POST"]),
    "conversation": ("conversations/<str:conversation_id>", ["GET"]),
    "activities": ("conversations/<str:conversation_id>/activities", ["GET", "POST"]),
    "upload": ("conversations/<str:conversation_id>/upload", ["POST"]),
    "not-found": ("^(?P<rest>.*)$", None),
}

ALLOWED = "allowed"  # neither 401, 403 nor 404: the credential was accepted (the request itself may be a 400)
CREDENTIALS = ["none", "malformed", "api-secret", "other-bots-secret", "secret", "token", "other-token",
               "expired-token", "revoked-secret"]

# route name -> credential -> expected status (or ALLOWED)
EXPECTED = {
    "tokens-generate": {"none": 401, "malformed": 401, "api-secret": 401, "other-bots-secret": ALLOWED,
                        "secret": ALLOWED, "token": 401, "other-token": 401, "expired-token": 403,
                        "revoked-secret": 401},
    "tokens-refresh": {"none": 401, "malformed": 401, "api-secret": 401, "other-bots-secret": 401, "secret": 401,
                       "token": ALLOWED, "other-token": ALLOWED, "expired-token": 403, "revoked-secret": 401},
    "conversations": {"none": 401, "malformed": 401, "api-secret": 401, "other-bots-secret": ALLOWED,
                      "secret": ALLOWED, "token": ALLOWED, "other-token": ALLOWED, "expired-token": 403,
                      "revoked-secret": 401},
}
for _name in ("conversation", "activities", "upload"):
    EXPECTED[_name] = {"none": 401, "malformed": 401, "api-secret": 401, "other-bots-secret": 404, "secret": ALLOWED,
                       "token": ALLOWED, "other-token": 404, "expired-token": 403, "revoked-secret": 401}


def _directline_routes() -> dict:
    found = {}

    def walk(patterns, base, namespace):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, base + str(entry.pattern), entry.namespace or namespace)
            elif namespace == "directline":
                found[entry.name] = str(entry.pattern)

    walk(get_resolver().url_patterns, "", None)
    return found


def test_every_directline_route_is_in_the_matrix():
    assert _directline_routes() == {name: route for name, (route, _) in DIRECTLINE_ROUTES.items()}
    assert set(EXPECTED) == {name for name, (_, methods) in DIRECTLINE_ROUTES.items() if methods}


@pytest.fixture
def world(owner, other_owner):
    bot = BotFactory(owner=owner, welcome_messages=["Hi"])
    other_bot = BotFactory(owner=other_owner)
    secret_row, secret = directline_secret_create(bot=bot)
    revoked_row, revoked = directline_secret_create(bot=bot)
    revoked_row.revoked_at = timezone.now()
    revoked_row.save()
    mine = directline_conversation_start(bot=bot)
    other = directline_conversation_start(bot=bot)
    expired = directline_conversation_start(bot=bot)
    BotSession.objects.filter(pk=expired.issued.bot_session.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    return {
        "bot": bot,
        "conversation_id": str(mine.conversation.pk),
        "none": None,
        "malformed": "",
        "api-secret": api_key_create(owner=owner)[1],
        "other-bots-secret": directline_secret_create(bot=other_bot)[1],
        "secret": secret,
        "token": mine.issued.token,
        "other-token": other.issued.token,
        "expired-token": expired.issued.token,
        "revoked-secret": revoked,
    }


@pytest.mark.parametrize("credential", CREDENTIALS)
@pytest.mark.parametrize(("name", "method"), [(n, m) for n, (_, ms) in DIRECTLINE_ROUTES.items() for m in ms or []])
def test_the_matrix(world, name, method, credential):
    route = DIRECTLINE_ROUTES[name][0].replace("<str:conversation_id>", world["conversation_id"])
    headers = {}
    if world[credential] is not None:
        headers["HTTP_AUTHORIZATION"] = "Bearer " + world[credential] if world[credential] else "Basic x"
    client = Client()
    if method == "GET":
        response = client.get(f"/v3/directline/{route}", **headers)
    else:
        body = {"type": "message", "text": "hello"} if name == "activities" else {}
        response = client.post(f"/v3/directline/{route}", body, content_type="application/json", **headers)
    expected = EXPECTED[name][credential]
    if expected == ALLOWED:
        assert response.status_code not in (401, 403, 404), (response.status_code, response.content)
    else:
        assert response.status_code == expected, response.content
        error = response.json()["error"]
        if expected == 403:
            assert error["code"] == "TokenExpired"
