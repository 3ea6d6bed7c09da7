import uuid

import pytest

from sessions_app.models import Conversation, Message
from sessions_app.services.sessions import bot_session_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def welcoming_bot(bot):
    bot.welcome_messages = ["Hello, I am Helpdesk.", "How can I help?"]
    bot.save()
    return bot


def test_begin_answers_with_the_welcome_messages(einstein, welcoming_bot):
    response = einstein.begin(welcoming_bot)
    assert response.status_code == 200
    body = response.json()
    assert uuid.UUID(body["sessionId"])
    assert body["botVersion"] == str(welcoming_bot.version)
    assert body["processedSequenceIds"] == [0]
    assert [(m["type"], m["text"]) for m in body["messages"]] == [
        ("text", "Hello, I am Helpdesk."),
        ("text", "How can I help?"),
    ]
    assert len({m["id"] for m in body["messages"]}) == 2
    # Extras appear only when responseOptions asks for them.
    assert not {"variables", "intents", "entities", "metrics"} & set(body)
    conversation = Conversation.objects.get(pk=body["sessionId"])
    assert conversation.origin == "einstein" and conversation.bot == welcoming_bot
    assert conversation.einstein.external_session_key == "5a7d1c3e-0000-4000-8000-000000000001"


def test_begin_headers_runtime_crc_bot_mode_and_request_id(einstein, welcoming_bot):
    response = einstein.begin(welcoming_bot, headers={"X-Request-ID": "36a73651-a46d-4d16-9a8a-fd436ed62e1a"})
    assert response["X-Bot-Mode"] == "default"
    assert response["X-Runtime-CRC"]
    assert response["X-Request-ID"] == "36a73651-a46d-4d16-9a8a-fd436ed62e1a"
    generated = einstein.begin(welcoming_bot)["X-Request-ID"]
    assert uuid.UUID(generated)


def test_begin_links_are_absolute_urls_of_this_server(einstein, welcoming_bot):
    body = einstein.begin(welcoming_bot).json()
    sid = body["sessionId"]
    assert body["_links"] == {
        "self": {"href": f"http://testserver/v5.0.0/bots/{welcoming_bot.pk}/sessions"},
        "session": {"href": f"http://testserver/v5.0.0/sessions/{sid}"},
        "messages": {"href": f"http://testserver/v5.0.0/sessions/{sid}/messages"},
    }


def test_begin_with_text_answers_the_welcome_then_the_text_and_stores_every_message_in_order(
    einstein, welcoming_bot
):
    body = einstein.begin(welcoming_bot, message={"text": "Where is my order?"}).json()
    assert [m["text"] for m in body["messages"]] == [
        "Hello, I am Helpdesk.",
        "How can I help?",
        welcoming_bot.fallback_message,
    ]
    stored = Message.objects.filter(conversation_id=body["sessionId"]).order_by("id")
    assert [(m.type, m.text) for m in stored] == [
        ("bot", "Hello, I am Helpdesk.\n\nHow can I help?"),
        ("user", "Where is my order?"),
        ("bot", welcoming_bot.fallback_message),
    ]


def test_session_keeps_its_bot_version_and_the_crc_follows_the_bot(einstein, welcoming_bot):
    first = einstein.begin(welcoming_bot)
    welcoming_bot.version += 1
    welcoming_bot.save()
    second = einstein.begin(welcoming_bot)
    assert first.json()["botVersion"] == "1" and second.json()["botVersion"] == "2"
    assert first["X-Runtime-CRC"] != second["X-Runtime-CRC"]
    reply = einstein.send(first.json()["sessionId"], {"type": "text", "text": "hi", "sequenceId": 1})
    assert reply.json()["botVersion"] == "1"
    assert reply["X-Runtime-CRC"] == second["X-Runtime-CRC"]


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"unexpected": 1}, "unexpected"),
        ({"message": {"text": "hi", "sequenceId": 1}}, "message.sequenceId"),
        ({"responseOptions": {"variables": {"include": True, "onlyChanged": False, "extra": 1}}}, "extra"),
        ({"responseOptions": {"verbose": True}}, "verbose"),
    ],
)
def test_unknown_fields_are_refused_by_name_and_nothing_is_created(einstein, bot, extra, named):
    response = einstein.begin(bot, **extra)
    assert response.status_code == 400
    assert response.json()["error"] == "BadRequestError"
    assert named in response.json()["message"]
    assert not Conversation.objects.exists()


@pytest.mark.parametrize("missing", ["forceConfig", "externalSessionKey"])
def test_required_fields(einstein, bot, missing):
    from .conftest import begin_body

    body = begin_body()
    del body[missing]
    response = einstein.begin(bot, body=body)
    assert response.status_code == 400 and missing in response.json()["message"]


def test_force_config_needs_an_endpoint(einstein, bot):
    response = einstein.begin(bot, forceConfig={"other": "x"})
    assert response.status_code == 400 and "forceConfig.endpoint" in response.json()["message"]


def test_time_zone_is_validated_and_kept(einstein, bot):
    bad = einstein.begin(bot, tz="Mars/Olympus_Mons")
    assert bad.status_code == 400 and "tz" in bad.json()["message"]
    good = einstein.begin(bot, tz="America/Los_Angeles").json()
    assert Conversation.objects.get(pk=good["sessionId"]).timezone == "America/Los_Angeles"


def test_rich_content_capabilities_and_referrers_are_validated(einstein, bot):
    bad = einstein.begin(
        bot, richContentCapabilities={"messageTypes": [{"messageType": "Carousel", "formatTypes": []}]}
    )
    assert bad.status_code == 400 and "messageType" in bad.json()["message"]
    bad = einstein.begin(bot, referrers=[{"type": "Somewhere", "value": "x"}])
    assert bad.status_code == 400 and "referrers[0].type" in bad.json()["message"]
    ok = einstein.begin(
        bot,
        referrers=[{"type": "Salesforce:Core:Bot:Id", "value": "0Xx000000000001"}],
        richContentCapabilities={
            "messageTypes": [{"messageType": "StaticContentMessage", "formatTypes": [{"formatType": "Attachments"}]}]
        },
    )
    assert ok.status_code == 200


# --- authentication and the org id ---------------------------------------------------------------


def test_missing_or_invalid_secret_is_401(einstein_anon, bot):
    response = einstein_anon.begin(bot)
    assert response.status_code == 401 and response.json()["error"] == "UnauthorizedError"
    response = einstein_anon.begin(bot, headers={"Authorization": "Bearer sk-not-a-real-secret"})
    assert response.status_code == 401
    response = einstein_anon.begin(bot, headers={"Authorization": "Basic abc"})
    assert response.status_code == 401
    assert not Conversation.objects.exists()


def test_a_session_token_is_not_an_api_secret(einstein_anon, bot):
    token = bot_session_create(bot=bot, actor=bot.owner).issued.token
    response = einstein_anon.begin(bot, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_another_owners_valid_secret_is_404(einstein_other, bot):
    response = einstein_other.begin(bot)
    assert response.status_code == 404 and response.json()["error"] == "NotFoundError"


def test_unknown_bot_is_404(einstein):
    class Unknown:
        pk = uuid.uuid4()

    assert einstein.begin(Unknown).status_code == 404
    assert einstein.post("/v5.0.0/bots/not-a-uuid/sessions", {}).status_code == 404


def test_org_id_is_required(einstein, bot):
    for value in (None, ""):
        response = einstein.begin(bot, headers={"X-Org-Id": value})
        assert response.status_code == 400 and "X-Org-Id" in response.json()["message"]


def test_org_id_must_be_the_owners_18_or_first_15_characters(einstein, bot, org_id, other_owner):
    from sessions_app.services.owners import owner_profile_ensure

    assert einstein.begin(bot, headers={"X-Org-Id": org_id[:15]}).status_code == 200
    assert einstein.begin(bot, headers={"X-Org-Id": org_id[:14]}).status_code == 404
    wrong_suffix = org_id[:15] + ("AAA" if org_id[15:] != "AAA" else "BBB")
    assert einstein.begin(bot, headers={"X-Org-Id": wrong_suffix}).status_code == 404
    assert einstein.begin(bot, headers={"X-Org-Id": org_id.lower()}).status_code == 404
    other_org = owner_profile_ensure(owner=other_owner).org_id
    response = einstein.begin(bot, headers={"X-Org-Id": other_org})
    assert response.status_code == 404 and response.json()["error"] == "NotFoundError"


# --- malformed requests ---------------------------------------------------------------------------


def test_malformed_json_is_a_400_error_object(einstein, bot):
    response = einstein.post(f"/v5.0.0/bots/{bot.pk}/sessions", raw="{not json")
    assert response.status_code == 400 and "not valid JSON" in response.json()["message"]


def test_a_json_body_that_is_not_an_object(einstein, bot):
    response = einstein.post(f"/v5.0.0/bots/{bot.pk}/sessions", [1, 2])
    assert response.status_code == 400


def test_wrong_content_type_is_a_400_error_object(einstein, bot):
    response = einstein.post(f"/v5.0.0/bots/{bot.pk}/sessions", raw="a=b", content_type="text/plain")
    assert response.status_code == 400 and "Content-Type" in response.json()["message"]


def test_oversized_body_is_a_400_error_object(einstein, bot, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    from .conftest import begin_body

    response = einstein.begin(bot, body=begin_body(message={"text": "x" * 2000}))
    assert response.status_code == 400
    assert "limit" in response.json()["message"]
    assert not Conversation.objects.exists()


def test_too_long_text_is_refused(einstein, bot, settings):
    settings.BOTPORTAL = {**settings.BOTPORTAL, "MAX_MESSAGE_CHARS": 10}
    response = einstein.begin(bot, message={"text": "x" * 11})
    assert response.status_code == 400 and "message.text" in response.json()["message"]
    assert not Conversation.objects.exists()


def test_wrong_method_on_begin(einstein, bot):
    response = einstein.get(f"/v5.0.0/bots/{bot.pk}/sessions")
    assert response.status_code == 405 and response.json()["status"] == 405


@pytest.mark.parametrize(
    "raw",
    [
        '{"externalSessionKey": "k", "forceConfig": {"endpoint": "e", "n": NaN}}',
        '{"externalSessionKey": "k", "forceConfig": {"endpoint": "e"}, "message": {"text": "a\\u0000b"}}',
    ],
)
def test_values_that_cannot_be_stored_are_400_not_500(einstein, bot, raw):
    response = einstein.post(f"/v5.0.0/bots/{bot.pk}/sessions", raw=raw)
    assert response.status_code == 400
    assert not Conversation.objects.exists()
