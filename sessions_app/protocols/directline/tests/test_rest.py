"""Direct Line 3.0 over HTTP: tokens, start, polling, sending, upload, errors and CORS."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from sessions_app.models import BotSession, Conversation, Message, Origin
from sessions_app.protocols.directline.models import DirectLineConversation, DirectLineSecret
from sessions_app.protocols.directline.services import directline_secret_revoke

pytestmark = pytest.mark.django_db


def _error(response, status, code=None):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    if code is not None:
        assert body["error"]["code"] == code
    return body["error"]


def test_the_command_prints_the_secret_alone_on_its_last_line(dl_bot, capsys):
    call_command("directlinesecret", str(dl_bot.pk))
    secret = capsys.readouterr().out.strip().splitlines()[-1]
    assert secret.startswith("dls-") and " " not in secret
    row = DirectLineSecret.objects.get(bot=dl_bot)
    assert secret not in (row.digest, row.prefix) and row.digest != secret


def test_generate_starts_a_new_conversation_each_time(directline, dl_secret, dl_bot):
    first = directline.generate(dl_secret)
    second = directline.generate(dl_secret)
    assert first.status_code == 200, first.content
    body = first.json()
    assert set(body) == {"conversationId", "token", "expires_in"}
    assert 1790 <= body["expires_in"] <= 1800
    assert body["conversationId"] != second.json()["conversationId"]
    conversation = Conversation.objects.get(pk=body["conversationId"])
    assert conversation.origin == Origin.DIRECTLINE and conversation.bot_id == dl_bot.pk


def test_start_with_the_token_is_its_conversation_and_with_the_secret_a_new_one(directline, dl_secret, started):
    conversation_id, token = started
    response = directline.start(token)
    assert response.status_code == 200
    body = response.json()
    assert body["conversationId"] == conversation_id and body["token"] == token
    assert body["streamUrl"].startswith(f"ws://testserver/v3/directline/conversations/{conversation_id}/stream?t=")
    fresh = directline.start(dl_secret)
    assert fresh.status_code == 201
    assert fresh.json()["conversationId"] != conversation_id


def test_polling_reads_the_welcome_then_the_echo_and_reply(directline, started):
    conversation_id, token = started
    first = directline.poll(token, conversation_id)
    assert first.status_code == 200
    page = first.json()
    assert isinstance(page["watermark"], str)
    [welcome] = page["activities"]
    assert welcome["type"] == "message" and welcome["text"] == "Hello from the bot!"
    assert welcome["from"]["role"] == "bot" and "replyToId" not in welcome

    sent = directline.send(token, conversation_id, "show me the menu", channelData={"clientActivityID": "abc"})
    assert sent.status_code == 200, sent.content
    sent_id = sent.json()["id"]
    after = directline.poll(token, conversation_id, page["watermark"]).json()
    echo, *replies = after["activities"]
    assert echo["id"] == sent_id and echo["channelData"] == {"clientActivityID": "abc"}
    assert echo["from"] == {"id": "dl-user-1", "name": "Ann", "role": "user"} and echo["timestamp"]
    assert [r["text"] for r in replies] == ["Here is the menu.", "Pick one"]
    assert all(r["replyToId"] == sent_id and r["from"]["role"] == "bot" for r in replies)
    assert "suggestedActions" not in replies[0]
    assert replies[-1]["suggestedActions"]["actions"] == [
        {"type": "imBack", "title": "Orders", "value": "Orders"},
        {"type": "imBack", "title": "Refunds", "value": "Refunds"},
    ]
    # Nothing new: the same watermark, no activities.
    again = directline.poll(token, conversation_id, after["watermark"]).json()
    assert again == {"activities": [], "watermark": after["watermark"]}


def test_an_imback_choice_a_link_and_the_end(directline, started):
    conversation_id, token = started
    directline.send(token, conversation_id, "show me the menu")
    watermark = directline.poll(token, conversation_id).json()["watermark"]
    directline.send(token, conversation_id, "Orders")
    page = directline.poll(token, conversation_id, watermark).json()
    link = page["activities"][-1]
    assert link["textFormat"] == "markdown" and link["text"] == "[Track it here](https://shop.example/track)"
    directline.send(token, conversation_id, "goodbye for now")
    # The conversation is over, its tokens revoked with it: its last activities can still be read.
    end = directline.poll(token, conversation_id, page["watermark"])
    assert end.status_code == 200, end.content
    assert [a["type"] for a in end.json()["activities"]] == ["message", "message", "endOfConversation"]
    assert end.json()["activities"][1]["text"] == "Goodbye!"
    # Nothing else may be done with it.
    _error(directline.send(token, conversation_id, "hello?"), 403, "TokenExpired")
    _error(directline.start(token), 403, "TokenExpired")


def test_escalation_is_a_handoff_event_after_the_text(directline, started):
    conversation_id, token = started
    directline.send(token, conversation_id, "talk to a human")
    activities = directline.poll(token, conversation_id).json()["activities"]
    assert [a["type"] for a in activities[-2:]] == ["message", "event"]
    assert activities[-1]["name"] == "handoff"
    assert activities[-1]["value"]["targets"][0]["target"] == "queue-1"


def test_refresh_gives_a_new_token_for_the_same_conversation(directline, started):
    conversation_id, token = started
    refreshed = directline.call("post", "tokens/refresh", token)
    assert refreshed.status_code == 200
    body = refreshed.json()
    assert body["conversationId"] == conversation_id and body["token"] != token
    _error(directline.poll(token, conversation_id), 403, "TokenExpired")
    assert directline.poll(body["token"], conversation_id).status_code == 200


def test_reconnect_answers_the_token_and_a_stream_url_with_the_watermark(directline, started):
    conversation_id, token = started
    response = directline.call("get", f"conversations/{conversation_id}?watermark=7", token)
    assert response.status_code == 200
    body = response.json()
    assert body["token"] == token and "watermark=7" in body["streamUrl"]


def test_credentials_errors(directline, dl_secret, started, owner):
    conversation_id, token = started
    _error(directline.start(None), 401)
    _error(directline.start("nonsense"), 401)
    _error(directline.call("post", "conversations", None, HTTP_AUTHORIZATION="Basic abc"), 401)
    _error(directline.generate("dls-not-a-secret"), 401)
    _error(directline.generate(token), 401)
    _error(directline.poll(token, "00000000-0000-0000-0000-000000000000"), 404, "NotFound")
    _error(directline.poll(token, "junk"), 404)
    BotSession.objects.filter(conversation_id=conversation_id).update(expires_at=timezone.now() - timedelta(seconds=1))
    _error(directline.poll(token, conversation_id), 403, "TokenExpired")
    _error(directline.send(token, conversation_id, "hi"), 403, "TokenExpired")


def test_a_revoked_secret_is_refused(directline, dl_secret):
    directline_secret_revoke(secret=DirectLineSecret.objects.get())
    _error(directline.generate(dl_secret), 401)


def test_an_owner_revoke_over_api_v1_revokes_the_direct_line_tokens(directline, started, owner_client):
    conversation_id, token = started
    response = owner_client.post(f"/api/v1/conversation/{conversation_id}/session/revoke", {}, format="json")
    assert response.status_code == 200 and response.json()["revoked"] == 1
    _error(directline.poll(token, conversation_id), 403, "TokenExpired")


def test_a_botportal_session_token_is_a_direct_line_token(directline, dl_bot, public_bot, anon_client):
    public_bot.welcome_messages = ["Welcome, visitor."]
    public_bot.save()
    created = anon_client.post(f"/api/v1/bot/{public_bot.pk}/session/create", {}, format="json").json()
    start = directline.start(created["token"])
    assert start.status_code == 200 and start.json()["conversationId"] == created["conversationId"]
    activities = directline.poll(created["token"], created["conversationId"]).json()["activities"]
    assert activities[0]["text"] == "Welcome, visitor."
    sent = directline.send(created["token"], created["conversationId"], "hello")
    assert sent.status_code == 200


def test_unknown_paths_and_methods_answer_in_the_protocol_shape(directline, started):
    _error(directline.call("get", "nothing/here"), 404)
    _error(directline.client.get("/v3/directline"), 404)
    response = directline.call("delete", "tokens/generate")
    _error(response, 405)


def test_bad_activities_are_refused_and_leave_no_rows(directline, started):
    conversation_id, token = started
    before = Message.objects.count()
    for body in ([], {"type": "message", "text": ""}, {"type": "message", "text": 5},
                 {"type": "message", "text": "x", "channelData": "no"}):
        _error(directline.call("post", f"conversations/{conversation_id}/activities", token, body), 400)
    bad_json = directline.client.post(
        f"/v3/directline/conversations/{conversation_id}/activities", "{", content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    _error(bad_json, 400)
    assert Message.objects.count() == before


def test_typing_from_the_client_is_acknowledged_and_not_stored(directline, started):
    conversation_id, token = started
    before = Message.objects.count()
    response = directline.call("post", f"conversations/{conversation_id}/activities", token, {"type": "typing"})
    assert response.status_code == 200 and response.json()["id"]
    assert Message.objects.count() == before


def test_upload_keeps_the_attachment_metadata(directline, started):
    conversation_id, token = started
    from django.core.files.uploadedfile import SimpleUploadedFile

    activity = SimpleUploadedFile("blob", b'{"type": "message", "text": "", "channelData": {"clientActivityID": "u1"}}',
                                  content_type="application/vnd.microsoft.activity")
    file = SimpleUploadedFile("receipt.png", b"\x89PNG....", content_type="image/png")
    response = directline.client.post(
        f"/v3/directline/conversations/{conversation_id}/upload?userId=dl-user-1",
        {"activity": activity, "file": file}, HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 200, response.content
    activities = directline.poll(token, conversation_id).json()["activities"]
    echo = activities[-1]
    assert echo["id"] == response.json()["id"] and echo["channelData"] == {"clientActivityID": "u1"}
    assert echo["attachments"] == [{"contentType": "image/png", "name": "receipt.png", "content": {"size": 8}}]
    empty = directline.client.post(
        f"/v3/directline/conversations/{conversation_id}/upload", {}, HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    _error(empty, 400)


def test_preflight_answers_any_origin_without_credentials(directline):
    response = directline.client.options(
        "/v3/directline/conversations", HTTP_ORIGIN="https://anywhere.example",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type, x-ms-bot-agent, x-requested-with",
    )
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in response
    allowed = {h.strip() for h in response["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type", "x-ms-bot-agent", "x-requested-with"} <= allowed


def test_the_origin_must_be_the_bots_or_the_tokens(directline, dl_secret, dl_bot):
    # No allowed origins anywhere: any origin.
    open_body = directline.generate(dl_secret, HTTP_ORIGIN="https://any.example").json()
    assert directline.start(open_body["token"], HTTP_ORIGIN="https://any.example").status_code == 200
    # The token's trustedOrigins restrict it.
    trusted = directline.generate(dl_secret, {"trustedOrigins": ["https://shop.example"]}).json()
    assert directline.start(trusted["token"], HTTP_ORIGIN="https://shop.example").status_code == 200
    _error(directline.start(trusted["token"], HTTP_ORIGIN="https://evil.example"), 403)
    # Without Origin (a server, a Node client): not refused for it.
    assert directline.start(trusted["token"]).status_code == 200
    # The bot's allowed origins count too.
    dl_bot.allowed_origins = ["https://bot.example"]
    dl_bot.save()
    assert directline.start(trusted["token"], HTTP_ORIGIN="https://bot.example").status_code == 200
    _error(directline.start(open_body["token"], HTTP_ORIGIN="https://any.example"), 403)
    _error(directline.generate(dl_secret, HTTP_ORIGIN="https://any.example"), 403)


def test_bad_generate_bodies_are_refused_without_rows(directline, dl_secret):
    before = Conversation.objects.count()
    for body in ({"trustedOrigins": ["https://*"]}, {"user": "x"}, {"user": {"id": 5}}, [1]):
        _error(directline.generate(dl_secret, body), 400)
    assert Conversation.objects.count() == before


def test_polling_once_a_second_is_never_throttled_but_turns_are(directline, started, monkeypatch):
    from django.core.cache import cache
    from rest_framework.throttling import SimpleRateThrottle

    conversation_id, token = started
    for _ in range(120):  # two minutes of polling at directlinejs's default interval, and more
        assert directline.poll(token, conversation_id).status_code == 200
    # DRF reads the rates once, into the class: set there, and put back by monkeypatch after the test.
    rates = {**SimpleRateThrottle.THROTTLE_RATES, "session_token": "2/minute"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)
    cache.clear()
    assert directline.send(token, conversation_id, "hello").status_code == 200
    assert directline.send(token, conversation_id, "hello").status_code == 200
    refused = directline.send(token, conversation_id, "hello")
    _error(refused, 429)
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert directline.poll(token, conversation_id).status_code == 200


# What directlinejs sends alone, and inside Web Chat (its own bundled copy).
DIRECTLINEJS_AGENTS = ["DirectLine/3.0 (directlinejs 0.15.8)",
                       "DirectLine/3.0 (directlinejs; WebChat/4.18.1 (Full) 0.15.5)"]


@pytest.mark.parametrize("agent", [None, "DirectLine/3.0 (MyBridge 1.0)", *DIRECTLINEJS_AGENTS])
def test_retry_after_is_in_seconds_but_in_milliseconds_to_directlinejs(directline, started, monkeypatch, agent):
    """directlinejs reads Retry-After as milliseconds (it holds the refused call that long, then reports it);
    HTTP and every other client, seconds."""
    from django.core.cache import cache
    from rest_framework.throttling import SimpleRateThrottle

    conversation_id, token = started
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {**SimpleRateThrottle.THROTTLE_RATES,
                                                               "session_token": "1/minute"})
    cache.clear()
    extra = {"HTTP_X_MS_BOT_AGENT": agent} if agent else {}
    path = f"conversations/{conversation_id}/activities"
    activity = {"type": "message", "text": "hello", "from": {"id": "dl-user-1"}}
    assert directline.call("post", path, token, activity, **extra).status_code == 200
    refused = directline.call("post", path, token, activity, **extra)
    _error(refused, 429)
    value = int(refused["Retry-After"])
    assert "Retry-After" in refused["Access-Control-Expose-Headers"] and refused["Vary"] == "x-ms-bot-agent"
    if agent in DIRECTLINEJS_AGENTS:
        assert value % 1000 == 0 and 1000 <= value <= 60000
    else:
        assert 1 <= value <= 60


def test_too_many_failed_credentials_answer_429_in_the_clients_unit(directline, monkeypatch):
    from django.core.cache import cache
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {**SimpleRateThrottle.THROTTLE_RATES,
                                                               "failed_auth": "2/minute"})
    cache.clear()
    for _ in range(2):
        _error(directline.start("not-a-token"), 401)
    seconds = directline.start("not-a-token")
    _error(seconds, 429)
    assert 1 <= int(seconds["Retry-After"]) <= 60
    milliseconds = directline.start("not-a-token", HTTP_X_MS_BOT_AGENT=DIRECTLINEJS_AGENTS[0])
    _error(milliseconds, 429)
    assert 1000 <= int(milliseconds["Retry-After"]) <= 60000


def test_a_revoked_token_is_no_failed_guess_and_locks_nobody_out(directline, dl_secret, monkeypatch):
    from django.core.cache import cache
    from rest_framework.throttling import SimpleRateThrottle

    from sessions_app.services.sessions import bot_session_revoke

    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {**SimpleRateThrottle.THROTTLE_RATES,
                                                               "failed_auth": "2/minute"})
    cache.clear()
    stale = directline.generate(dl_secret).json()
    bot_session_revoke(bot_session=BotSession.objects.get(conversation_id=stale["conversationId"]))
    for _ in range(4):  # a stale tab polling on: 403 each time, never the address's 429
        _error(directline.poll(stale["token"], stale["conversationId"]), 403)
    live = directline.generate(dl_secret).json()
    assert directline.poll(live["token"], live["conversationId"]).status_code == 200
    for _ in range(2):
        _error(directline.start("not-a-token"), 401)
    _error(directline.start("not-a-token"), 429)  # guesses still count


def test_an_oversized_body_is_refused_in_the_protocol_shape(directline, started, settings):
    conversation_id, token = started
    before = Message.objects.count()
    limit = settings.BOTPORTAL["MAX_BODY_BYTES"]
    response = directline.call("post", f"conversations/{conversation_id}/activities", token,
                               {"type": "message", "text": "x" * (limit + 10)})
    _error(response, 413)
    assert Message.objects.count() == before


def test_direct_line_details_stay_botportals_own_over_api_v1(directline, dl_secret, owner_client):
    body = directline.generate(dl_secret, {"user": {"id": "u-7"}, "trustedOrigins": ["https://shop.example"]}).json()
    conversation = Conversation.objects.get(pk=body["conversationId"])
    state = DirectLineConversation.objects.get(conversation=conversation)
    assert (state.user_id, state.user_name, state.trusted_origins) == ("u-7", "", ["https://shop.example"])
    # Not in the conversation's meta, where the owner's update writes.
    assert conversation.meta == {}
    fetched = owner_client.get(f"/api/v1/conversation/{body['conversationId']}/fetch")
    assert fetched.status_code == 200, fetched.content
    assert fetched.json().get("meta", {}) == {}
    assert not {"trustedOrigins", "directline", "_directline"} & set(fetched.json())
    # An owner's meta update keeps them.
    updated = owner_client.post(f"/api/v1/conversation/{body['conversationId']}/update", {"meta": {"a": 1}},
                                format="json")
    assert updated.status_code == 200, updated.content
    state.refresh_from_db()
    assert state.trusted_origins == ["https://shop.example"]
    assert directline.start(body["token"], HTTP_ORIGIN="https://evil.example").status_code == 403
    assert directline.start(body["token"], HTTP_ORIGIN="https://shop.example").status_code == 200


def test_hostile_bodies_are_refused_in_the_protocol_shape_without_rows(directline, dl_secret, started):
    """NUL, lone surrogates and deep nesting answer 400 (a 500 is not retried by directlinejs)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    conversation_id, token = started
    conversations, messages = Conversation.objects.count(), Message.objects.count()
    path = f"/v3/directline/conversations/{conversation_id}/activities"
    raw_bodies = (
        '{"type": "message", "text": "a\\u0000b"}',
        '{"type": "message", "text": "a\\ud800b"}',
        '{"type": "message", "text": "hi", "channelData": {"k": "\\u0000"}}',
        '{"type": "message", "text": "hi", "channelData": {"\\udc00": 1}}',
        '{"type": "message", "text": "hi", "channelData": {"n": 1e999}}',  # Infinity, which no JSON stores
    )
    for raw in raw_bodies:
        response = directline.client.post(path, raw, content_type="application/json",
                                          HTTP_AUTHORIZATION=f"Bearer {token}")
        _error(response, 400)
    _error(directline.client.post("/v3/directline/tokens/generate", '{"user": {"id": "a\\u0000"}}',
                                  content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {dl_secret}"), 400)
    upload = f"/v3/directline/conversations/{conversation_id}/upload"
    for raw in (b"[" * 100_000 + b"]" * 100_000, b'{"type": "message", "text": "a\\u0000"}',
                b'{"type": "message", "channelData": {"x": "\\ud800"}}',
                b'{"type": "message", "channelData": {"n": -1e400}}',
                b'{"type": "message", "text": 5}'):  # with a file, it would have been dropped unsaid
        activity = SimpleUploadedFile("blob", raw, content_type="application/vnd.microsoft.activity")
        file = SimpleUploadedFile("receipt.png", b"\x89PNG", content_type="image/png")
        response = directline.client.post(upload, {"activity": activity, "file": file},
                                          HTTP_AUTHORIZATION=f"Bearer {token}")
        _error(response, 400)
    # A multipart body without its boundary cannot be read: a 400, not a 500.
    response = directline.client.post(upload, b"--x\r\n", content_type="multipart/form-data",
                                      HTTP_AUTHORIZATION=f"Bearer {token}")
    _error(response, 400)
    assert Conversation.objects.count() == conversations and Message.objects.count() == messages
    assert directline.send(token, conversation_id, "hello").status_code == 200


def test_a_watermark_past_any_message_id_reads_from_the_start(directline, started):
    conversation_id, token = started
    huge = "9" * 23  # past a 64-bit integer, which neither database takes
    polled = directline.poll(token, conversation_id, huge)
    assert polled.status_code == 200, polled.content
    assert [a["text"] for a in polled.json()["activities"]] == ["Hello from the bot!"]
    reconnect = directline.call("get", f"conversations/{conversation_id}?watermark={huge}", token)
    assert reconnect.status_code == 200 and "watermark=" not in reconnect.json()["streamUrl"]


def test_typing_and_events_spend_no_turns(directline, started, monkeypatch):
    from django.core.cache import cache
    from rest_framework.throttling import SimpleRateThrottle

    conversation_id, token = started
    rates = {**SimpleRateThrottle.THROTTLE_RATES, "session_token": "2/minute", "directline_signal": "5/minute"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)
    cache.clear()
    path = f"conversations/{conversation_id}/activities"
    for kind in ("typing", "event", "typing", "event"):
        assert directline.call("post", path, token, {"type": kind, "from": {"id": "dl-user-1"}}).status_code == 200
    # Web Chat sends typing as the person types: the two turns of the minute are all still there.
    assert directline.send(token, conversation_id, "hello").status_code == 200
    assert directline.send(token, conversation_id, "hello").status_code == 200
    _error(directline.send(token, conversation_id, "hello"), 429)
    # Their own rate bounds them.
    assert directline.call("post", path, token, {"type": "typing"}).status_code == 200
    _error(directline.call("post", path, token, {"type": "typing"}), 429)


def test_the_activities_of_one_reply_have_distinct_timestamps_in_order(directline, started):
    conversation_id, token = started
    assert directline.send(token, conversation_id, "show me the menu").status_code == 200
    activities = directline.poll(token, conversation_id).json()["activities"]
    last_message = activities[-1]["id"].split(".")[0]
    reply = [a for a in activities if a["from"]["role"] == "bot" and a["id"].split(".")[0] == last_message]
    assert len(reply) >= 2
    stamps = [a["timestamp"] for a in reply]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps), stamps
    assert all(stamp.endswith("Z") and len(stamp.split(".")[1]) == 7 for stamp in stamps)  # 6 digits and Z


def test_a_refused_upload_leaves_no_rows_and_the_conversation_goes_on(directline, started, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    conversation_id, token = started
    path = f"/v3/directline/conversations/{conversation_id}/upload?userId=dl-user-1"
    before = Message.objects.count()
    too_many = [SimpleUploadedFile(f"f{i}.txt", b"x", content_type="text/plain") for i in range(11)]
    _error(directline.client.post(path, {"file": too_many}, HTTP_AUTHORIZATION=f"Bearer {token}"), 400, "BadArgument")
    oversized = SimpleUploadedFile("big.bin", b"x" * (settings.BOTPORTAL["MAX_BODY_BYTES"] + 1))
    _error(directline.client.post(path, {"file": oversized}, HTTP_AUTHORIZATION=f"Bearer {token}"), 413)
    assert Message.objects.count() == before
    # The conversation is unharmed: a file with a text is a turn the bot answers.
    activity = SimpleUploadedFile("blob", b'{"type": "message", "text": "show me the menu"}',
                                  content_type="application/vnd.microsoft.activity")
    file = SimpleUploadedFile("menu.pdf", b"%PDF", content_type="application/pdf")
    accepted = directline.client.post(path, {"activity": activity, "file": file}, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert accepted.status_code == 200, accepted.content
    activities = directline.poll(token, conversation_id).json()["activities"]
    echo = next(a for a in activities if a["id"] == accepted.json()["id"])
    assert echo["text"] == "show me the menu" and echo["attachments"][0]["name"] == "menu.pdf"
    assert any(a.get("replyToId") == echo["id"] and a.get("suggestedActions") for a in activities)


def test_polling_past_its_own_rate_is_a_429_with_retry_after(directline, started, monkeypatch):
    from django.core.cache import cache
    from rest_framework.throttling import SimpleRateThrottle

    conversation_id, token = started
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {**SimpleRateThrottle.THROTTLE_RATES,
                                                               "directline_poll": "3/minute"})
    cache.clear()
    for _ in range(3):
        assert directline.poll(token, conversation_id).status_code == 200
    refused = directline.poll(token, conversation_id)
    _error(refused, 429, "TooManyRequests")
    assert 1 <= int(refused["Retry-After"]) <= 60


def test_reconnect_with_the_secret_gives_the_site_a_token_of_that_conversation(directline, dl_secret, started):
    conversation_id, token = started
    response = directline.call("get", f"conversations/{conversation_id}?watermark=3", dl_secret)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["conversationId"] == conversation_id and body["token"] not in (token, dl_secret)
    assert "watermark=3" in body["streamUrl"] and body["expires_in"] > 0
    assert directline.poll(body["token"], conversation_id).status_code == 200
    _error(directline.call("get", "conversations/00000000-0000-0000-0000-000000000000", dl_secret), 404, "NotFound")


def test_allowed_origins_set_over_api_v1_bind_direct_line(directline, dl_secret, dl_bot, owner_client):
    response = owner_client.post(f"/api/v1/bot/{dl_bot.pk}/update", {"allowedOrigins": ["https://shop.example"]},
                                 format="json")
    assert response.status_code == 200, response.content
    assert owner_client.get(f"/api/v1/bot/{dl_bot.pk}/fetch").json()["allowedOrigins"] == ["https://shop.example"]
    body = directline.generate(dl_secret, HTTP_ORIGIN="https://shop.example").json()
    assert directline.start(body["token"], HTTP_ORIGIN="https://shop.example").status_code == 200
    _error(directline.start(body["token"], HTTP_ORIGIN="https://other.example"), 403)
    _error(directline.poll(body["token"], body["conversationId"], HTTP_ORIGIN="https://other.example"), 403)
    # Cleared over /api/v1: any origin again.
    owner_client.post(f"/api/v1/bot/{dl_bot.pk}/update", {"allowedOrigins": []}, format="json")
    assert directline.start(body["token"], HTTP_ORIGIN="https://other.example").status_code == 200


def test_polling_past_the_echo_still_names_the_message_the_reply_answers(directline, started):
    conversation_id, token = started
    # An earlier user message too: the look-up must name the last one before the watermark, not any.
    assert directline.send(token, conversation_id, "show me the menu").status_code == 200
    second_id = directline.send(token, conversation_id, "hello").json()["id"]
    # The page after the second echo holds only its reply: the user message it answers lies before it.
    replies = directline.poll(token, conversation_id, second_id).json()["activities"]
    assert replies and all(r["replyToId"] == second_id and r["from"]["role"] == "bot" for r in replies)


def test_a_reader_that_knows_the_message_answered_reads_the_page_in_one_statement(
    directline, started, django_assert_num_queries
):
    from sessions_app.models import Conversation
    from sessions_app.protocols.directline.activities import activities_page
    from sessions_app.protocols.directline.services import STATE

    conversation_id, token = started
    sent_id = directline.send(token, conversation_id, "show me the menu").json()["id"]
    conversation = Conversation.objects.select_related("bot", STATE).get(pk=conversation_id)
    with django_assert_num_queries(2):  # the page, then the user message its reply answers
        looked_up = activities_page(conversation, int(sent_id))
    with django_assert_num_queries(1):
        known = activities_page(conversation, int(sent_id), replying_to=int(sent_id))
    assert known == looked_up
    assert looked_up[0] and all(a["replyToId"] == sent_id for a in looked_up[0])


def test_an_upload_past_django_s_field_limit_is_a_400(directline, started, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    conversation_id, token = started
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 2
    fields = {f"field{n}": "x" for n in range(5)}
    file = SimpleUploadedFile("receipt.png", b"\x89PNG", content_type="image/png")
    response = directline.client.post(f"/v3/directline/conversations/{conversation_id}/upload",
                                      {**fields, "file": file}, HTTP_AUTHORIZATION=f"Bearer {token}")
    _error(response, 400)
