"""Authorization matrix: two owners, every /api/v1 and /v5.0.0 route, every kind of credential.

The route lists are read from the URL resolver and compared with the expectations below, so a new
route fails this module until it is placed in the matrix.
"""

import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.urls import URLResolver, get_resolver
from django.utils import timezone
from rest_framework.test import APIClient

from bots.models import Ability, Bot, Dataset, DatasetRecord, Skillset
from bots.services.bot_definitions import bot_export
from bots.tests.factories import AbilityFactory, BotFactory, DatasetFactory, DatasetRecordFactory, SkillsetFactory
from sessions_app.models import ApiKey, BotSession, Contact, Conversation, Message
from sessions_app.services.owners import api_key_create, api_key_revoke, owner_profile_ensure
from sessions_app.tests.apis.einstein.conftest import EinsteinClient, begin_body
from sessions_app.tests.factories import BotSessionFactory, ContactFactory, ConversationFactory, MessageFactory
from tests.throttle_rates import rates_set

pytestmark = pytest.mark.django_db(transaction=False)

# name: (method, route) of every route under /api/v1 (and its /v1 alias).
CHATBOTKIT_ROUTES = {
    "bot-session-create": ("post", "bot/<str:bot_id>/session/create"),
    "session-create": ("post", "conversation/<str:conversation_id>/session/create"),
    "session-refresh": ("post", "conversation/<str:conversation_id>/session/refresh"),
    "session-revoke": ("post", "conversation/<str:conversation_id>/session/revoke"),
    "conversation-complete": ("post", "conversation/<str:conversation_id>/complete"),
    "conversation-send": ("post", "conversation/<str:conversation_id>/send"),
    "conversation-receive": ("post", "conversation/<str:conversation_id>/receive"),
    "conversation-message-list": ("get", "conversation/<str:conversation_id>/message/list"),
    "contact-ensure": ("post", "contact/ensure"),
    "contact-conversation-list": ("get", "contact/<str:contact_id>/conversation/list"),
    "dataset-search": ("post", "dataset/<str:dataset_id>/search"),
    "bot-create": ("post", "bot/create"),
    "bot-list": ("get", "bot/list"),
    "bot-fetch": ("get", "bot/<str:item_id>/fetch"),
    "bot-update": ("post", "bot/<str:item_id>/update"),
    "bot-delete": ("post", "bot/<str:item_id>/delete"),
    "dataset-create": ("post", "dataset/create"),
    "dataset-list": ("get", "dataset/list"),
    "dataset-fetch": ("get", "dataset/<str:item_id>/fetch"),
    "dataset-update": ("post", "dataset/<str:item_id>/update"),
    "dataset-delete": ("post", "dataset/<str:item_id>/delete"),
    "record-create": ("post", "dataset/<str:parent_id>/record/create"),
    "record-list": ("get", "dataset/<str:parent_id>/record/list"),
    "record-fetch": ("get", "dataset/<str:parent_id>/record/<str:item_id>/fetch"),
    "record-update": ("post", "dataset/<str:parent_id>/record/<str:item_id>/update"),
    "record-delete": ("post", "dataset/<str:parent_id>/record/<str:item_id>/delete"),
    "skillset-create": ("post", "skillset/create"),
    "skillset-list": ("get", "skillset/list"),
    "skillset-fetch": ("get", "skillset/<str:item_id>/fetch"),
    "skillset-update": ("post", "skillset/<str:item_id>/update"),
    "skillset-delete": ("post", "skillset/<str:item_id>/delete"),
    "ability-create": ("post", "skillset/<str:parent_id>/ability/create"),
    "ability-list": ("get", "skillset/<str:parent_id>/ability/list"),
    "ability-fetch": ("get", "skillset/<str:parent_id>/ability/<str:item_id>/fetch"),
    "ability-update": ("post", "skillset/<str:parent_id>/ability/<str:item_id>/update"),
    "ability-delete": ("post", "skillset/<str:parent_id>/ability/<str:item_id>/delete"),
    "contact-create": ("post", "contact/create"),
    "contact-list": ("get", "contact/list"),
    "contact-fetch": ("get", "contact/<str:item_id>/fetch"),
    "contact-update": ("post", "contact/<str:item_id>/update"),
    "contact-delete": ("post", "contact/<str:item_id>/delete"),
    "conversation-create": ("post", "conversation/create"),
    "conversation-list": ("get", "conversation/list"),
    "conversation-fetch": ("get", "conversation/<str:item_id>/fetch"),
    "conversation-update": ("post", "conversation/<str:item_id>/update"),
    "conversation-delete": ("post", "conversation/<str:item_id>/delete"),
    "bot-import": ("post", "bot/import"),
    "bot-export": ("post", "bot/<str:bot_id>/export"),
}

# What a session token may do, in its own conversation only.
TOKEN_ROUTES = {
    "conversation-complete",
    "conversation-send",
    "conversation-receive",
    "conversation-message-list",
    "session-refresh",
    "session-revoke",
}

# Bodies that would succeed on the caller's own objects, so that a missing owner check would show as a write.
BODIES = {
    "bot-session-create": {"messages": [{"type": "user", "text": "hello"}]},
    "conversation-complete": {"text": "hello"},
    "conversation-send": {"text": "hello"},
    "dataset-search": {"search": "record"},
    "bot-create": {"name": "New bot"},
    "bot-update": {"name": "Taken over"},
    "dataset-create": {"name": "New dataset"},
    "dataset-update": {"name": "Taken over"},
    "record-create": {"text": "Planted record"},
    "record-update": {"text": "Taken over"},
    "skillset-create": {"name": "New skillset"},
    "skillset-update": {"name": "Taken over"},
    "ability-create": {"name": "Planted", "instruction": "Do it."},
    "ability-update": {"name": "Taken over"},
    "contact-create": {"name": "New contact"},
    "contact-ensure": {"fingerprint": "shared-fingerprint", "name": "Ensured"},
    "contact-update": {"name": "Taken over"},
    "conversation-create": {"name": "New conversation"},
    "conversation-update": {"name": "Taken over"},
    # A definition exported from a third owner's bot: importing it touches neither owner's objects.
    "bot-import": lambda: bot_export(bot=BotFactory(name="Imported")),
}

# name: route of every Einstein runtime route; the unnamed catch-all is listed by its pattern.
EINSTEIN_ROUTES = {
    "status": "status",
    "versions": "versions",
    "begin": "v5.0.0/bots/<str:bot_id>/sessions",
    "messages": "v5.0.0/sessions/<str:session_id>/messages",
    "session": "v5.0.0/sessions/<str:session_id>",
    "not-found": "^v5\\.0\\.0(?:/(?P<rest>.*))?$",
    None: "^(?:status|versions)/(?P<rest>.*)$",
}

KIND_OF_SEGMENT = {
    "bot": "bot",
    "conversation": "conversation",
    "contact": "contact",
    "dataset": "dataset",
    "record": "record",
    "skillset": "skillset",
    "ability": "ability",
}


def _all_routes() -> list[tuple[str, object, str | None]]:
    """(full route, URL pattern, namespace) of every route botportal serves."""
    found = []

    def walk(patterns, base: str, namespace: str | None):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, base + str(entry.pattern), entry.namespace or namespace)
            else:
                found.append((base + str(entry.pattern), entry, namespace))

    walk(get_resolver().url_patterns, "", None)
    return found


def _routes_under(prefix: str) -> dict:
    """route (without the prefix) -> (name, methods) of every view under an API prefix, whichever app mounts it."""
    return {
        route[len(prefix) :]: (entry.name, sorted(m for m in ("get", "post") if hasattr(entry.callback.view_class, m)))
        for route, entry, _ in _all_routes()
        if route.startswith(prefix) and hasattr(entry.callback, "view_class")
    }


def test_every_chatbotkit_route_is_in_the_matrix():
    expected = {route: (name, [method]) for name, (method, route) in CHATBOTKIT_ROUTES.items()}
    assert _routes_under("api/v1/") == expected
    assert _routes_under("v1/") == expected
    # Whatever else answers under the prefixes is the JSON 404 catch-all.
    others = [route for route, entry, _ in _all_routes() if route.startswith("^(api|v1)")]
    assert others == ["^(api|v1)(?:/|$)"]


def test_every_einstein_route_is_in_the_matrix():
    einstein = {entry.name: str(entry.pattern) for _, entry, namespace in _all_routes() if namespace == "einstein"}
    assert einstein == EINSTEIN_ROUTES
    elsewhere = [
        route
        for route, _, namespace in _all_routes()
        if namespace != "einstein" and re.match(r"^\^?\(?(\?:)?(v5|status|versions)", route)
    ]
    assert elsewhere == []


@dataclass
class World:
    """One owner's objects, by kind, and credentials for them."""

    owner: object
    secret: str
    org_id: str
    bot: Bot
    public_bot: Bot
    dataset: Dataset
    record: DatasetRecord
    skillset: Skillset
    ability: Ability
    contact: Contact
    conversation: Conversation
    token: str

    def ids(self) -> dict:
        return {kind: str(getattr(self, kind).pk) for kind in KIND_OF_SEGMENT.values()}


def _world(owner) -> World:
    secret = api_key_create(owner=owner, name="matrix")[1]
    bot = BotFactory(owner=owner, visibility="private")
    dataset = DatasetFactory(owner=owner)
    skillset = SkillsetFactory(owner=owner)
    contact = ContactFactory(owner=owner, fingerprint="shared-fingerprint")
    conversation = ConversationFactory(bot=bot, contact=contact)
    MessageFactory(conversation=conversation, text="a private matter")
    _, token = BotSessionFactory.with_token(conversation=conversation)
    return World(
        owner=owner,
        secret=secret,
        org_id=owner_profile_ensure(owner=owner).org_id,
        bot=bot,
        public_bot=BotFactory(owner=owner, visibility="public"),
        dataset=dataset,
        record=DatasetRecordFactory(dataset=dataset, text="record text"),
        skillset=skillset,
        ability=AbilityFactory(skillset=skillset),
        contact=contact,
        conversation=conversation,
        token=token,
    )


@pytest.fixture(autouse=True)
def _generous_rates(monkeypatch):
    # The matrix makes hundreds of refused attempts from one address; the failed-auth limit is tested elsewhere.
    rates_set(monkeypatch, "100000/minute")


@pytest.fixture
def mine(owner):
    return _world(owner)


@pytest.fixture
def theirs(other_owner):
    return _world(other_owner)


def fill(route: str, ids: dict) -> str:
    """The route with each id taken from the object kind named by the segment before it."""
    segments = route.split("/")
    for index, segment in enumerate(segments):
        if segment.startswith("<"):
            segments[index] = ids[KIND_OF_SEGMENT[segments[index - 1]]]
    return "/".join(segments)


def call(client, name: str, ids: dict, prefix: str = "/api/v1"):
    method, route = CHATBOTKIT_ROUTES[name]
    path = f"{prefix}/{fill(route, ids)}"
    if method == "get":
        return client.get(path)
    body = BODIES.get(name, {})
    return client.post(path, body() if callable(body) else body, format="json")


def bearer(value: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {value}")
    return client


def snapshot(owner) -> dict:
    """Every row of an owner's objects, as values, so that any write shows."""
    querysets = {
        "bots": Bot.objects.filter(owner=owner),
        "datasets": Dataset.objects.filter(owner=owner),
        "records": DatasetRecord.objects.filter(dataset__owner=owner),
        "skillsets": Skillset.objects.filter(owner=owner),
        "abilities": Ability.objects.filter(skillset__owner=owner),
        "contacts": Contact.objects.filter(owner=owner),
        "conversations": Conversation.objects.filter(owner=owner),
        "messages": Message.objects.filter(conversation__owner=owner),
        "sessions": BotSession.objects.filter(conversation__owner=owner).defer("last_used_at"),
    }
    taken = {}
    for label, queryset in querysets.items():
        rows = list(queryset.order_by("pk").values())
        for row in rows:
            row.pop("last_used_at", None)
        taken[label] = rows
    return taken


def assert_status(response, expected: int, context: str):
    assert response.status_code == expected, f"{context}: {response.status_code} {response.content[:300]!r}"
    if expected >= 400:
        body = response.json()
        assert set(body) == {"message", "code"}, f"{context}: {body}"


# --- another owner's objects -------------------------------------------------------------------------

ID_ROUTES = sorted(name for name, (_, route) in CHATBOTKIT_ROUTES.items() if "<" in route)
COLLECTION_ROUTES = sorted(name for name, (_, route) in CHATBOTKIT_ROUTES.items() if "<" not in route)


@pytest.mark.parametrize("prefix", ["/api/v1", "/v1"])
def test_another_owners_objects_are_never_readable_or_writable(mine, theirs, prefix):
    before = snapshot(theirs.owner)
    client = bearer(mine.secret)
    for name in ID_ROUTES:
        response = call(client, name, theirs.ids(), prefix)
        # A private bot of someone else's is refused as forbidden: session creation is open to some callers.
        expected = 403 if name == "bot-session-create" else 404
        assert_status(response, expected, name)
    assert snapshot(theirs.owner) == before


def test_another_owners_objects_never_appear_in_lists(mine, theirs):
    client = bearer(mine.secret)
    their_ids = set(theirs.ids().values()) | {str(theirs.public_bot.pk)}
    for name in ("bot-list", "dataset-list", "skillset-list", "contact-list", "conversation-list"):
        response = call(client, name, {})
        assert_status(response, 200, name)
        listed = {item["id"] for item in response.json()["items"]}
        assert listed, name
        assert not listed & their_ids, name
    for name in ("record-list", "ability-list", "contact-conversation-list", "conversation-message-list"):
        response = call(client, name, mine.ids())
        assert_status(response, 200, name)
        assert not {item["id"] for item in response.json()["items"]} & their_ids, name


def test_creates_cannot_reach_another_owners_objects(mine, theirs):
    before = snapshot(theirs.owner)
    client = bearer(mine.secret)
    references = [
        ("bot-create", {"name": "Borrowing", "datasetId": str(theirs.dataset.pk)}),
        ("bot-create", {"name": "Borrowing", "skillsetId": str(theirs.skillset.pk)}),
        ("conversation-create", {"botId": str(theirs.bot.pk)}),
        ("conversation-create", {"contactId": str(theirs.contact.pk)}),
        ("conversation-update", {"botId": str(theirs.bot.pk)}),
        ("conversation-update", {"contactId": str(theirs.contact.pk)}),
        ("bot-update", {"datasetId": str(theirs.dataset.pk)}),
        ("bot-update", {"skillsetId": str(theirs.skillset.pk)}),
    ]
    for name, body in references:
        method, route = CHATBOTKIT_ROUTES[name]
        response = client.post(f"/api/v1/{fill(route, mine.ids())}", body, format="json")
        assert response.status_code in (400, 404), f"{name} {body}: {response.status_code} {response.content!r}"
    # Creating under the owner's own name never touches the other's rows (a contact with the same fingerprint).
    for name in COLLECTION_ROUTES:
        if CHATBOTKIT_ROUTES[name][0] == "post":
            assert call(client, name, {}).status_code == 200, name
    assert snapshot(theirs.owner) == before


def test_a_public_bot_of_another_owner_opens_a_session_in_its_owners_name(mine, theirs):
    # Public means anyone: the session and its conversation belong to the bot's owner, not the caller.
    response = bearer(mine.secret).post(f"/api/v1/bot/{theirs.public_bot.pk}/session/create", {}, format="json")
    assert response.status_code == 200
    conversation = Conversation.objects.get(pk=response.json()["conversationId"])
    assert conversation.owner == theirs.owner
    assert not Conversation.objects.filter(owner=mine.owner, bot=theirs.public_bot).exists()


# --- session tokens ------------------------------------------------------------------------------------


def fresh_token(world: World) -> str:
    return BotSessionFactory.with_token(conversation=world.conversation)[1]


def test_a_session_token_reaches_only_its_own_conversations_routes(mine, theirs):
    other_of_mine = ConversationFactory(bot=mine.bot)
    for name in sorted(CHATBOTKIT_ROUTES):
        before = snapshot(theirs.owner)
        if name in TOKEN_ROUTES:
            response = call(bearer(fresh_token(mine)), name, mine.ids())
            assert response.status_code not in (401, 403, 404) and response.status_code < 500, (
                f"{name}: {response.status_code} {response.content[:200]!r}"
            )
            for conversation in (theirs.conversation, other_of_mine):
                response = call(bearer(fresh_token(mine)), name, {**mine.ids(), "conversation": str(conversation.pk)})
                assert_status(response, 401, f"{name} on another conversation")
        else:
            for ids in (mine.ids(), theirs.ids()):
                assert_status(call(bearer(fresh_token(mine)), name, ids), 401, name)
        assert snapshot(theirs.owner) == before


def test_a_session_token_cannot_open_a_session_even_with_a_public_bot(mine):
    response = bearer(mine.token).post(f"/api/v1/bot/{mine.public_bot.pk}/session/create", {}, format="json")
    assert_status(response, 401, "session token on a public bot")


# --- expired and revoked credentials ---------------------------------------------------------------


def dead_credentials(world: World) -> dict:
    now = timezone.now()
    _, expired = BotSessionFactory.with_token(conversation=world.conversation, expires_at=now - timedelta(seconds=1))
    _, revoked = BotSessionFactory.with_token(conversation=world.conversation, revoked_at=now)
    ended = ConversationFactory(bot=world.bot, ended_at=now, end_reason="UserRequest")
    _, of_ended = BotSessionFactory.with_token(conversation=ended)
    key, secret = api_key_create(owner=world.owner, name="revoked")
    api_key_revoke(api_key=key)
    return {
        "expired token": expired,
        "revoked token": revoked,
        "token of an ended conversation": of_ended,
        "revoked API secret": secret,
        "unknown API secret": "sk-" + "A" * 43,
        "unknown token": "B" * 43,
    }


def test_dead_credentials_are_refused_everywhere(mine):
    public_ids = {**mine.ids(), "bot": str(mine.public_bot.pk)}
    for label, value in dead_credentials(mine).items():
        before = snapshot(mine.owner)
        for name in sorted(CHATBOTKIT_ROUTES):
            for ids in (mine.ids(), public_ids) if name == "bot-session-create" else (mine.ids(),):
                assert_status(call(bearer(value), name, ids), 401, f"{label} on {name}")
        assert snapshot(mine.owner) == before, label
    assert ApiKey.objects.filter(owner=mine.owner, revoked_at__isnull=False).count() == 1


# --- /v5.0.0 -----------------------------------------------------------------------------------------


def einstein_session(world: World) -> str:
    response = EinsteinClient(world.secret, world.org_id).begin(world.bot, body=begin_body())
    assert response.status_code == 200, response.content
    return response.json()["sessionId"]


def einstein_calls(client: EinsteinClient, bot, session_id: str, sequence_id: int = 1) -> dict:
    return {
        "begin": lambda: client.begin(bot, body=begin_body(externalSessionKey=f"matrix-{sequence_id}")),
        "messages": lambda: client.send(session_id, {"type": "text", "sequenceId": sequence_id, "text": "hi"}),
        "session": lambda: client.end(session_id),
    }


def assert_einstein_status(response, expected: int, context: str):
    assert response.status_code == expected, f"{context}: {response.status_code} {response.content[:300]!r}"


def test_einstein_another_owners_bots_and_sessions_are_404(mine, theirs):
    their_session = einstein_session(theirs)
    before = snapshot(theirs.owner)
    for org_id in (mine.org_id, theirs.org_id):
        client = EinsteinClient(mine.secret, org_id)
        for name, request in einstein_calls(client, theirs.bot, their_session).items():
            assert_einstein_status(request(), 404, f"{name} with org {org_id}")
    # Their conversation started over the runtime is not reachable over /api/v1 either.
    response = bearer(mine.secret).get(f"/api/v1/conversation/{their_session}/message/list")
    assert_status(response, 404, "runtime session over /api/v1")
    assert snapshot(theirs.owner) == before


def test_einstein_refuses_session_tokens_and_dead_secrets(mine):
    session_id = einstein_session(mine)
    refused = {**dead_credentials(mine), "live session token": mine.token}
    before = snapshot(mine.owner)
    for label, value in refused.items():
        client = EinsteinClient(value, mine.org_id)
        for name, request in einstein_calls(client, mine.bot, session_id, sequence_id=7).items():
            assert_einstein_status(request(), 401, f"{label} on {name}")
    for name, request in einstein_calls(EinsteinClient(None, mine.org_id), mine.bot, session_id, 7).items():
        assert_einstein_status(request(), 401, f"no credentials on {name}")
    assert snapshot(mine.owner) == before


def test_einstein_public_routes_need_no_credentials(db):
    client = EinsteinClient(None, None)
    assert client.get("/status").status_code == 200
    assert client.get("/versions").status_code == 200


def test_the_owners_own_einstein_routes_work(mine):
    # The refusals above mean something only if the same calls succeed for the owner.
    session_id = einstein_session(mine)
    client = EinsteinClient(mine.secret, mine.org_id)
    for name, request in einstein_calls(client, mine.bot, session_id, sequence_id=1).items():
        assert_einstein_status(request(), 200, name)


def test_the_owners_own_routes_work(mine):
    client = bearer(mine.secret)
    deletes = ["conversation-delete", "contact-delete", "record-delete", "ability-delete", "dataset-delete"]
    deletes += ["skillset-delete", "bot-delete"]
    for name in [name for name in sorted(CHATBOTKIT_ROUTES) if name not in deletes] + deletes:
        if name == "session-refresh":
            continue  # needs the token itself: covered by the session token matrix
        response = call(client, name, mine.ids())
        assert response.status_code in (200, 409), f"{name}: {response.status_code} {response.content[:200]!r}"


def test_route_fill_uses_the_kind_before_each_id():
    ids = {kind: kind.upper() for kind in KIND_OF_SEGMENT.values()}
    assert fill("dataset/<str:parent_id>/record/<str:item_id>/fetch", ids) == "dataset/DATASET/record/RECORD/fetch"
    assert re.fullmatch(r"skillset/SKILLSET/ability/ABILITY/delete", fill(CHATBOTKIT_ROUTES["ability-delete"][1], ids))
