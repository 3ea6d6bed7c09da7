"""Authorization matrix of Direct Line: every /v3/directline route, every kind of credential, and every
WebSocket route of the ASGI application, every kind of stream credential and origin.

The HTTP route list is read from the URL resolver and compared with DIRECTLINE_ROUTES, the WebSocket
route list from the ASGI application's WebSocket router (every protocol's) and compared with
WEBSOCKET_ROUTES, so a new route of either kind fails this module until it is placed in the matrix."""

import json
import time
from datetime import timedelta

import pytest
from channels.routing import URLRouter
from django.core import signing
from django.test import Client
from django.urls import URLResolver, get_resolver
from django.utils import timezone

from botportal.asgi import WEBSOCKET_NOT_FOUND, application, websocket_not_found
from bots.tests.factories import BotFactory
from sessions_app.models import BotSession
from sessions_app.protocols.directline import streams
from sessions_app.protocols.directline.consumers import CLOSE_FORBIDDEN, DirectLineStreamConsumer
from sessions_app.protocols.directline.services import directline_conversation_start, directline_secret_create
from sessions_app.protocols.directline.tests.websocket import WebsocketCommunicator, run_on_own_loop
from sessions_app.services.conversations import conversation_end
from sessions_app.services.owners import api_key_create
from sessions_app.services.sessions import bot_session_revoke

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
               "expired-token", "revoked-token", "revoked-secret"]

# route name -> credential -> expected status (or ALLOWED)
EXPECTED = {
    "tokens-generate": {"none": 401, "malformed": 401, "api-secret": 401, "other-bots-secret": ALLOWED,
                        "secret": ALLOWED, "token": 401, "other-token": 401, "expired-token": 403,
                        "revoked-token": 403, "revoked-secret": 401},
    "tokens-refresh": {"none": 401, "malformed": 401, "api-secret": 401, "other-bots-secret": 401, "secret": 401,
                       "token": ALLOWED, "other-token": ALLOWED, "expired-token": 403, "revoked-token": 403,
                       "revoked-secret": 401},
    "conversations": {"none": 401, "malformed": 401, "api-secret": 401, "other-bots-secret": ALLOWED,
                      "secret": ALLOWED, "token": ALLOWED, "other-token": ALLOWED, "expired-token": 403,
                      "revoked-token": 403, "revoked-secret": 401},
}
for _name in ("conversation", "activities", "upload"):
    EXPECTED[_name] = {"none": 401, "malformed": 401, "api-secret": 401, "other-bots-secret": 404, "secret": ALLOWED,
                       "token": ALLOWED, "other-token": 404, "expired-token": 403, "revoked-token": 403,
                       "revoked-secret": 401}


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
    revoked_token = directline_conversation_start(bot=bot)
    bot_session_revoke(bot_session=revoked_token.issued.bot_session)
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
        "revoked-token": revoked_token.issued.token,
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


# The WebSocket routes of botportal.asgi.application: name -> (route, its consumer).
WEBSOCKET_ROUTES = {
    "stream": ("v3/directline/conversations/<str:conversation_id>/stream", DirectLineStreamConsumer),
    "not-found": ("", websocket_not_found),
}
ACCEPTED = "accepted"  # the handshake is accepted and the backlog (the welcome) is the first frame
# A stream URL's credential (query `t`) and the browser's Origin, one case each.
STREAM_CASES = ["no-credential", "malformed", "forged", "stale", "other-conversation", "mismatched-token",
                "unknown-token", "expired-token", "revoked-token", "ended-conversation", "inactive-owner",
                "wrong-origin", "no-origin", "bot-origin", "trusted-origin"]
# route name -> case -> expected outcome (ACCEPTED, or the close code of a refused handshake)
WEBSOCKET_EXPECTED = {
    "stream": dict.fromkeys(STREAM_CASES, CLOSE_FORBIDDEN)
    | {"no-origin": ACCEPTED, "bot-origin": ACCEPTED, "trusted-origin": ACCEPTED},
    # Any other path (here the stream's with a suffix): even what opens the stream opens nothing there.
    "not-found": dict.fromkeys(["no-origin", "bot-origin", "trusted-origin"], WEBSOCKET_NOT_FOUND),
}
BOT_ORIGIN = "https://shop.example"
TRUSTED_ORIGIN = "https://partner.example"


def _websocket_routes(router=None, base="") -> dict:
    """route -> consumer class of every route the ASGI application's WebSocket router serves."""
    router = router or application.application_mapping["websocket"]
    found = {}
    for route in router.routes:
        pattern = base + str(route.pattern)
        if isinstance(route.callback, URLRouter):
            found |= _websocket_routes(route.callback, pattern)
        else:
            found[pattern] = getattr(route.callback, "consumer_class", route.callback)
    return found


def test_every_websocket_route_is_in_the_matrix():
    assert _websocket_routes() == dict(WEBSOCKET_ROUTES.values())
    assert set(WEBSOCKET_EXPECTED) == set(WEBSOCKET_ROUTES)
    assert set(WEBSOCKET_EXPECTED["stream"]) == set(STREAM_CASES)
    assert all(set(cases) <= set(STREAM_CASES) for cases in WEBSOCKET_EXPECTED.values())


class _StaleSigner(signing.TimestampSigner):
    """Signs as if it were two minutes ago: past the stream credential's 60 seconds."""

    def timestamp(self):
        return signing.b62_encode(int(time.time()) - 120)


def _stream_case(case, owner):
    """(the stream path to open, its headers) for one case, the world made for it."""
    bot = BotFactory(owner=owner, welcome_messages=["Hi"], allowed_origins=[BOT_ORIGIN])
    mine = directline_conversation_start(bot=bot, trusted_origins=[TRUSTED_ORIGIN])
    other = directline_conversation_start(bot=bot)
    conversation_id, bot_session = mine.conversation.pk, mine.issued.bot_session
    credential = streams.stream_credential(conversation_id=conversation_id, bot_session_id=bot_session.pk)
    payload = {"c": str(conversation_id), "s": bot_session.pk}
    origin = None
    if case == "no-credential":
        credential = None
    elif case == "malformed":
        credential = "not-a-credential"
    elif case == "forged":
        credential = signing.dumps(payload, key="not-botportal-s-secret-key", salt=streams.SALT)
    elif case == "stale":
        credential = _StaleSigner(salt=streams.SALT).sign_object(payload)
    elif case == "other-conversation":
        credential = streams.stream_credential(
            conversation_id=other.conversation.pk, bot_session_id=other.issued.bot_session.pk
        )
    elif case == "mismatched-token":  # signed for this conversation, naming another conversation's token
        credential = streams.stream_credential(
            conversation_id=conversation_id, bot_session_id=other.issued.bot_session.pk
        )
    elif case == "unknown-token":
        credential = streams.stream_credential(conversation_id=conversation_id, bot_session_id=2**31 - 1)
    elif case == "expired-token":
        BotSession.objects.filter(pk=bot_session.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    elif case == "revoked-token":
        bot_session_revoke(bot_session=bot_session)
    elif case == "ended-conversation":
        conversation_end(conversation=mine.conversation)
    elif case == "inactive-owner":
        type(owner).objects.filter(pk=owner.pk).update(is_active=False)
    elif case == "wrong-origin":
        origin = "https://evil.example"
    elif case == "bot-origin":
        origin = BOT_ORIGIN
    elif case == "trusted-origin":
        origin = TRUSTED_ORIGIN
    path = f"/v3/directline/conversations/{conversation_id}/stream"
    if credential is not None:
        path += "?" + f"t={credential}"
    headers = [(b"origin", origin.encode())] if origin else []
    return path, headers


@pytest.mark.django_db(transaction=True)  # the consumer reads the database on threads of its own
@pytest.mark.parametrize(("name", "case"), [(n, case) for n, cases in WEBSOCKET_EXPECTED.items() for case in cases])
def test_the_websocket_matrix(owner, name, case):
    path, headers = _stream_case(case, owner)
    if name == "not-found":
        stream, _, query = path.partition("?")
        path = f"{stream}/more?{query}"
    expected = WEBSOCKET_EXPECTED[name][case]

    async def run():
        socket = WebsocketCommunicator(application, path, headers=headers)
        accepted, code = await socket.connect()
        if expected != ACCEPTED:
            assert (accepted, code) == (False, expected)
            return
        assert accepted, code
        frame = json.loads(await socket.receive_from())
        assert [a["text"] for a in frame["activities"]] == ["Hi"]
        await socket.disconnect()

    run_on_own_loop(run)
