"""Direct Line's WebSocket: the backlog first, then each change; its credential; keep-alives ignored."""

import asyncio
import json
import os
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from asgiref.testing import ApplicationCommunicator
from django.test import override_settings
from django.utils import timezone

from botportal.asgi import application
from sessions_app.models import BotSession, Conversation
from sessions_app.protocols.directline import fanout
from sessions_app.protocols.directline.streams import stream_credential

from .websocket import WebsocketCommunicator, stream_path

pytestmark = pytest.mark.django_db(transaction=True)


async def _frames_until(socket, predicate, timeout=10):
    frames = []
    while True:
        frame = json.loads(await socket.receive_from(timeout=timeout))
        frames.append(frame)
        if predicate([a for f in frames for a in f["activities"]]):
            return frames


async def _post(path, token, body):
    data = json.dumps(body).encode()
    http = ApplicationCommunicator(application, {
        "type": "http", "method": "POST", "path": path, "query_string": b"", "http_version": "1.1",
        "scheme": "http", "server": ("testserver", 80), "client": ("127.0.0.1", 5000),
        "headers": [(b"authorization", f"Bearer {token}".encode()), (b"content-type", b"application/json"),
                    (b"host", b"testserver"), (b"content-length", str(len(data)).encode())],
    })
    await http.send_input({"type": "http.request", "body": data, "more_body": False})
    start = await http.receive_output(20)
    chunks = []
    while True:
        message = await http.receive_output(20)
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return start["status"], json.loads(b"".join(chunks))


async def _open(stream_url, *, past_backlog=False):
    """A socket on `stream_url`, its accept asserted; with past_backlog, once its first frame (the backlog) came."""
    socket = WebsocketCommunicator(application, stream_path(stream_url))
    assert (await socket.connect())[0]
    if past_backlog:
        await _frames_until(socket, lambda activities: activities)
    return socket


async def _send(conversation_id, token, text, sender, **fields):
    """A message posted over the REST API, its 200 asserted: the answer's body (the activity's id)."""
    status, body = await _post(
        f"/v3/directline/conversations/{conversation_id}/activities", token,
        {"type": "message", "text": text, "from": {"id": sender}, **fields},
    )
    assert status == 200, body
    return body


def _start_with_model(directline, owner, model):
    """A conversation started with the secret of a new bot of `model`: the start's body."""
    from bots.tests.factories import BotFactory
    from sessions_app.protocols.directline.services import directline_secret_create

    bot = BotFactory(owner=owner, model=model, fallback_message="fallback")
    secret = directline_secret_create(bot=bot)[1]
    return directline.start(secret).json()


def test_the_stream_sends_the_backlog_then_the_echo_and_the_reply(directline, started):
    conversation_id, token = started
    stream_url = directline.start(token).json()["streamUrl"]

    async def run():
        socket = await _open(stream_url)
        [backlog] = await _frames_until(socket, lambda activities: activities)
        assert [a["text"] for a in backlog["activities"]] == ["Hello from the bot!"]
        assert isinstance(backlog["watermark"], str)
        await socket.send_to(text_data="")  # the client's keep-alive
        body = await _send(conversation_id, token, "show me the menu", "dl-user-1",
                           channelData={"clientActivityID": "web-1"})
        frames = await _frames_until(socket, lambda activities: len(activities) >= 3)
        activities = [a for f in frames for a in f["activities"]]
        echo = activities[0]
        assert echo["id"] == body["id"] and echo["channelData"] == {"clientActivityID": "web-1"}
        assert activities[-1]["suggestedActions"]["actions"][0]["value"] == "Orders"
        assert int(frames[-1]["watermark"]) > int(backlog["watermark"])
        await socket.disconnect()

        # Reconnecting with the watermark: only what came after it.
        again = WebsocketCommunicator(application, stream_path(stream_url) + f"&watermark={backlog['watermark']}")
        assert (await again.connect())[0]
        replay = await _frames_until(again, lambda activities: len(activities) >= 3)
        assert replay[0]["activities"][0]["id"] == body["id"]
        await again.disconnect()

    async_to_sync(run)()


@pytest.mark.parametrize("case", ["forged", "other-conversation", "revoked", "origin"])
def test_the_stream_refuses_bad_credentials(directline, dl_secret, started, case):
    conversation_id, token = started
    body = directline.generate(dl_secret, {"trustedOrigins": ["https://shop.example"]}).json()
    own_url = directline.start(body["token"]).json()["streamUrl"]
    path, headers = stream_path(own_url), []
    if case == "forged":
        path = path.split("?t=")[0] + "?t=" + stream_credential(conversation_id=body["conversationId"],
                                                                 bot_session_id=1)[:-3] + "abc"
    elif case == "other-conversation":
        path = path.replace(body["conversationId"], conversation_id)
    elif case == "revoked":
        from sessions_app.services.sessions import bot_session_revoke

        for bot_session in BotSession.objects.filter(conversation_id=body["conversationId"]):
            bot_session_revoke(bot_session=bot_session)
    else:
        headers = [(b"origin", b"https://evil.example")]

    async def run():
        socket = WebsocketCommunicator(application, path, headers=headers)
        connected, _ = await socket.connect()
        assert not connected
        # The same URL from an allowed origin opens.
        if case == "origin":
            ok = WebsocketCommunicator(application, path, headers=[(b"origin", b"https://shop.example")])
            assert (await ok.connect())[0]
            await ok.disconnect()

    async_to_sync(run)()


@pytest.mark.parametrize("mode", ["ok", "error"])
def test_a_streamed_answer_comes_as_typing_then_the_message(directline, owner, llm_settings, mode):
    body = _start_with_model(directline, owner, f"fake/fake-{mode}")
    conversation_id, token = body["conversationId"], body["token"]

    async def run():
        socket = await _open(body["streamUrl"])
        # The message is taken whatever the language model does: never a 5xx on send (a 200 asserted).
        sent = await _send(conversation_id, token, "hello there", "u")
        def bot_answered(activities):
            return any(a["type"] == "message" and a["from"]["role"] == "bot" for a in activities)

        frames = await _frames_until(socket, bot_answered)
        # Anything still on its way after the reply (a late typing indicator would be wrong) arrives
        # before a marker sent now.
        await asyncio.sleep(0.3)
        fanout.conversation_transient(conversation_id, {"type": "event", "id": "marker"})
        frames += await _frames_until(socket, lambda activities: activities[-1]["id"] == "marker")
        activities = [a for f in frames for a in f["activities"]][:-1]
        assert activities[0]["id"] == sent["id"]
        kinds = [a["type"] for a in activities[1:]]
        bot_message = next(a for a in activities if a["type"] == "message" and a["from"]["role"] == "bot")
        if mode == "ok":
            # Typing before the reply, or none when the echo's read already carried the reply: never after.
            assert kinds in (["typing", "message"], ["message"]), kinds
            assert bot_message["replyToId"] == sent["id"] and bot_message["text"]
        else:
            assert bot_message["text"] == "The bot could not answer; try again."
        await socket.disconnect()

    async_to_sync(run)()


def test_a_post_is_answered_before_its_reply_which_follows_over_the_stream(directline, owner, llm_settings,
                                                                          fake_upstream):
    """directlinejs gives a post 20 s and a model may take longer: the post is answered once its message
    is stored, while the model is still being waited on."""
    body = _start_with_model(directline, owner, "fake/fake-hang")
    conversation_id, token = body["conversationId"], body["token"]

    async def run():
        socket = await _open(body["streamUrl"])
        sent = await _send(conversation_id, token, "hello there", "u")
        # Answered while the turn still holds the conversation (the upstream hangs until the 2 s deadline).
        conversation = await sync_to_async(Conversation.objects.get)(pk=conversation_id)
        assert conversation.turn_ticket == conversation.turn_served + 1
        frames = await _frames_until(socket, lambda activities: activities[-1]["from"]["role"] == "bot")
        activities = [a for f in frames for a in f["activities"]]
        assert activities[0]["id"] == sent["id"]
        assert activities[-1]["text"] == "The bot could not answer; try again."
        assert fake_upstream.counters.requests == 1
        await socket.disconnect()

    async_to_sync(run)()


def test_the_socket_closes_once_its_token_is_revoked_after_sending_what_changed(directline, started):
    conversation_id, token = started
    stream_url = directline.start(token).json()["streamUrl"]

    async def run():
        socket = await _open(stream_url, past_backlog=True)
        await _send(conversation_id, token, "goodbye for now", "u")
        frames = await _frames_until(socket, lambda activities: activities[-1]["type"] == "endOfConversation")
        assert [a["type"] for f in frames for a in f["activities"]][-1] == "endOfConversation"
        closed = await socket.receive_output(5)
        assert closed == {"type": "websocket.close", "code": 4403}

    async_to_sync(run)()


@pytest.fixture
def redis_layer():
    """Production's channel layer, across processes: no in-process re-read stands in for a notice."""
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("set REDIS_URL: sockets on the Redis layer hear of changes only through notices")
    layer = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [url]}}}
    with override_settings(CHANNEL_LAYERS=layer):
        yield


async def _closed(socket, timeout=5):
    """The close code once the socket closes (frames sent before it skipped)."""
    while True:
        message = await socket.receive_output(timeout)
        if message["type"] == "websocket.close":
            return message.get("code")


def test_on_redis_a_send_over_api_v1_reaches_the_socket(directline, started, redis_layer):
    from sessions_app.tests.apis.helpers import token_client

    conversation_id, token = started
    stream_url = directline.start(token).json()["streamUrl"]
    client = token_client(token)

    async def run():
        socket = await _open(stream_url, past_backlog=True)
        response = await sync_to_async(client.post)(
            f"/api/v1/conversation/{conversation_id}/send", {"text": "sent over the other API"}, format="json"
        )
        assert response.status_code == 200, response.content
        frames = await _frames_until(socket, lambda activities: activities, timeout=3)
        assert [a["text"] for f in frames for a in f["activities"]] == ["sent over the other API"]
        await socket.disconnect()

    async_to_sync(run)()


def test_on_redis_a_revoke_with_no_new_activity_closes_the_socket(directline, started, owner_client, redis_layer):
    conversation_id, token = started
    stream_url = directline.start(token).json()["streamUrl"]

    async def run():
        socket = await _open(stream_url, past_backlog=True)
        response = await sync_to_async(owner_client.post)(
            f"/api/v1/conversation/{conversation_id}/session/revoke", {}, format="json"
        )
        assert response.status_code == 200 and response.json()["revoked"] == 1
        assert await _closed(socket, timeout=3) == 4403

    async_to_sync(run)()


def test_the_socket_closes_when_its_token_expires(directline, started):
    conversation_id, token = started
    stream_url = directline.start(token).json()["streamUrl"]
    BotSession.objects.filter(conversation_id=conversation_id).update(expires_at=timezone.now() + timedelta(seconds=2))

    async def run():
        socket = await _open(stream_url, past_backlog=True)
        # Nothing changes in the conversation and nothing is announced: the socket's own timer closes it.
        assert await _closed(socket, timeout=4) == 4403

    async_to_sync(run)()


def test_the_socket_survives_a_refresh_and_closes_on_a_real_revoke(directline, started):
    from sessions_app.services.sessions import bot_session_revoke

    conversation_id, token = started
    stream_url = directline.start(token).json()["streamUrl"]

    async def run():
        socket = await _open(stream_url, past_backlog=True)
        refreshed = await sync_to_async(directline.call)("post", "tokens/refresh", token)
        assert refreshed.status_code == 200, refreshed.content
        new_token = refreshed.json()["token"]
        await asyncio.sleep(1.5)  # the database look, or the refresh's notice, has come
        body = await _send(conversation_id, new_token, "show me the menu", "dl-user-1")
        frames = await _frames_until(socket, lambda activities: len(activities) >= 2)
        activities = [a for f in frames for a in f["activities"]]
        assert activities[0]["id"] == body["id"] and activities[1]["from"]["role"] == "bot"
        # Still open after that reply's notice: the next turn arrives too.
        again = await _send(conversation_id, new_token, "where is my order", "dl-user-1")
        frames = await _frames_until(socket, lambda activities: len(activities) >= 2)
        assert [a for f in frames for a in f["activities"]][0]["id"] == again["id"]
        live = await sync_to_async(BotSession.objects.get)(conversation_id=conversation_id, revoked_at__isnull=True)
        await sync_to_async(bot_session_revoke)(bot_session=live)
        assert await _closed(socket, timeout=3) == 4403

    async_to_sync(run)()


def test_a_typing_indicator_after_its_reply_is_dropped(directline, started):
    """What the review saw flake: the typing of a turn whose reply the socket has already sent."""
    conversation_id, token = started
    stream_url = directline.start(token).json()["streamUrl"]

    async def run():
        socket = await _open(stream_url, past_backlog=True)
        body = await _send(conversation_id, token, "where is my order", "dl-user-1")
        await _frames_until(socket, lambda activities: activities[-1]["from"]["role"] == "bot")
        late = {"type": "typing", "id": f"typing-{body['id']}", "replyToId": body["id"], "from": {"role": "bot"}}
        fanout.conversation_transient(conversation_id, late)
        pending = {"type": "typing", "id": "typing-next", "replyToId": "999999", "from": {"role": "bot"}}
        fanout.conversation_transient(conversation_id, pending)
        [frame] = await _frames_until(socket, lambda activities: activities)
        assert frame["activities"] == [pending]
        await socket.disconnect()

    async_to_sync(run)()


def test_a_change_whose_notice_was_lost_reaches_the_socket_within_the_look(directline, started):
    """A notice may be lost (a full channel, a layer down, a process without one): each process's
    look at its followed conversations, once a second, delivers the change all the same."""
    from sessions_app.services.conversations import conversation_messages_add
    from sessions_app.services.signals import conversation_changed

    conversation_id, token = started
    stream_url = directline.start(token).json()["streamUrl"]

    uid = "botportal-directline-fanout"

    def add_unannounced():
        conversation_changed.disconnect(dispatch_uid=uid)
        try:
            conversation_messages_add(
                conversation=Conversation.objects.get(pk=conversation_id),
                messages=[{"type": "bot", "text": "said without a notice"}],
            )
        finally:
            conversation_changed.connect(fanout.conversation_changed_received, dispatch_uid=uid)

    async def run():
        socket = await _open(stream_url, past_backlog=True)
        await asyncio.sleep(fanout.WATCH_SECONDS * 1.5)  # the look has seen the conversation as it was
        await sync_to_async(add_unannounced)()
        frames = await _frames_until(socket, lambda activities: activities, timeout=fanout.WATCH_SECONDS * 3)
        assert [a["text"] for f in frames for a in f["activities"]] == ["said without a notice"]
        await socket.disconnect()

    async_to_sync(run)()


def test_the_stream_url_of_a_reconnect_sends_only_what_came_after_its_watermark(directline, started):
    """directlinejs's reconnect after a dropped socket: GET conversations/{id}?watermark=W, then that streamUrl."""
    conversation_id, token = started
    assert directline.send(token, conversation_id, "show me the menu").status_code == 200
    polled = directline.poll(token, conversation_id).json()
    watermark = polled["watermark"]
    assert directline.send(token, conversation_id, "where is my order").status_code == 200
    reconnect = directline.call("get", f"conversations/{conversation_id}?watermark={watermark}", token).json()

    async def run():
        socket = await _open(reconnect["streamUrl"])
        frames = await _frames_until(socket, lambda activities: activities[-1]["from"]["role"] == "bot")
        activities = [a for f in frames for a in f["activities"]]
        assert activities[0]["text"] == "where is my order"
        assert not {a["id"] for a in activities} & {a["id"] for a in polled["activities"]}
        assert int(frames[-1]["watermark"]) > int(watermark)
        await socket.disconnect()

    async_to_sync(run)()


def test_a_socket_opened_past_an_echo_names_the_message_its_reply_answers(directline, started):
    conversation_id, token = started
    echo_id = directline.send(token, conversation_id, "show me the menu").json()["id"]
    reconnect = directline.call("get", f"conversations/{conversation_id}?watermark={echo_id}", token).json()

    async def run():
        socket = await _open(reconnect["streamUrl"])
        [backlog] = await _frames_until(socket, lambda activities: activities)
        assert backlog["activities"] and all(a["replyToId"] == echo_id for a in backlog["activities"])
        second = await _send(conversation_id, token, "where is my order", "dl-user-1")
        frames = await _frames_until(socket, lambda activities: activities[-1]["from"]["role"] == "bot")
        replies = [a for f in frames for a in f["activities"] if a["from"]["role"] == "bot"]
        assert replies and all(a["replyToId"] == second["id"] for a in replies)
        await socket.disconnect()

    async_to_sync(run)()


def test_a_notice_for_other_processes_never_waits_on_the_channel_layer(monkeypatch):
    """A request that commits hands its notice to the publisher's own thread: a channel layer that does
    not answer costs the request nothing, and the notice gives up after NOTICE_TIMEOUT_SECONDS."""
    import threading
    import time

    sent = threading.Event()

    class HangingLayer:
        async def group_send(self, group, message):
            sent.set()
            await asyncio.sleep(60)

    monkeypatch.setattr(fanout, "NOTICE_TIMEOUT_SECONDS", 0.5)
    monkeypatch.setattr(fanout, "_remote_layer", lambda: HangingLayer())
    started_at = time.monotonic()
    fanout.conversation_changed_received(None, conversation_ids=["c1", "c2"])
    assert time.monotonic() - started_at < 0.1
    assert sent.wait(2)
    deadline = time.monotonic() + 3
    while fanout.publisher.pending and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fanout.publisher.pending == 0


def test_a_botportal_session_token_opens_the_stream_of_its_conversation(directline, public_bot, anon_client):
    public_bot.welcome_messages = ["Welcome, visitor."]
    public_bot.save()
    created = anon_client.post(f"/api/v1/bot/{public_bot.pk}/session/create", {}, format="json").json()
    started = directline.start(created["token"])
    assert started.status_code == 200, started.content
    body = started.json()
    assert body["conversationId"] == created["conversationId"] and body["token"] == created["token"]

    async def run():
        socket = await _open(body["streamUrl"])
        [frame] = await _frames_until(socket, lambda activities: activities)
        assert [a["text"] for a in frame["activities"]] == ["Welcome, visitor."]
        sent = await _send(created["conversationId"], created["token"], "hello", "u")
        frames = await _frames_until(socket, lambda activities: len(activities) >= 2)
        assert [a for f in frames for a in f["activities"]][0]["id"] == sent["id"]
        await socket.disconnect()

    async_to_sync(run)()


def test_on_redis_a_transient_activity_reaches_the_socket_once_from_this_process_or_another(
    directline, started, redis_layer
):
    """This process's sockets get a typing activity at once, without the layer; the notice the layer
    brings back to this process is skipped, while another process's reaches the socket."""
    from channels.layers import get_channel_layer

    conversation_id, token = started
    stream_url = directline.start(token).json()["streamUrl"]

    async def run():
        socket = await _open(stream_url, past_backlog=True)
        fanout.conversation_transient(conversation_id, {"type": "typing", "id": "here"})
        other = {
            "type": "directline.notices",
            "changed": [],
            "transients": [(conversation_id, {"type": "typing", "id": "there"})],
            "from": "elsewhere",
        }
        await asyncio.sleep(0.5)  # this process's own notice has come back through Redis by now
        await get_channel_layer().group_send(fanout.PROCESSES_GROUP, other)
        frames = await _frames_until(socket, lambda activities: activities[-1]["id"] == "there", timeout=3)
        assert [a["id"] for f in frames for a in f["activities"]] == ["here", "there"]
        await socket.disconnect()

    async_to_sync(run)()


@pytest.fixture
def notices_only_from_elsewhere(redis_layer, monkeypatch):
    """Sockets hear of changes through notices alone (the once-a-second look is out of the way), and the
    publisher's thread stands in for another process (it signs its notices with another name)."""
    import threading

    this_process = fanout.process_name()
    monkeypatch.setattr(
        fanout,
        "process_name",
        lambda: "elsewhere" if threading.current_thread().name == "directline-notices" else this_process,
    )
    monkeypatch.setattr(fanout, "WATCH_SECONDS", 60)


def test_on_redis_another_process_notice_wakes_the_socket_with_no_look(
    directline, started, notices_only_from_elsewhere
):
    """A message stored by another process reaches this process's socket through that process's notice
    alone: nothing arrives until the notice does."""
    from channels.layers import get_channel_layer

    from sessions_app.models import Message

    conversation_id, token = started
    stream_url = directline.start(token).json()["streamUrl"]

    async def run():
        socket = await _open(stream_url, past_backlog=True)
        await sync_to_async(Message.objects.create)(conversation_id=conversation_id, type="bot", text="from afar")
        assert await socket.receive_nothing(timeout=0.5)
        fanout.publisher.publish(get_channel_layer(), changed=[conversation_id])
        frames = await _frames_until(socket, lambda activities: activities, timeout=3)
        assert [a["text"] for f in frames for a in f["activities"]] == ["from afar"]
        await socket.disconnect()

    async_to_sync(run)()


def test_on_redis_a_process_listens_again_once_its_sockets_come_back(
    directline, started, notices_only_from_elsewhere, monkeypatch
):
    """A process whose last socket closed stops listening; its next socket hears other processes again."""
    from channels.layers import get_channel_layer

    from sessions_app.models import Message

    monkeypatch.setattr(fanout, "LISTEN_SECONDS", 0.2)
    conversation_id, token = started
    first_url, second_url = (directline.start(token).json()["streamUrl"] for _ in range(2))

    async def run():
        first = await _open(first_url, past_backlog=True)
        listener = fanout.followers.listener
        await first.disconnect()
        await asyncio.wait_for(asyncio.shield(listener), 3)  # it stopped, with no socket left
        socket = await _open(second_url, past_backlog=True)
        assert fanout.followers.listener is not listener
        await sync_to_async(Message.objects.create)(conversation_id=conversation_id, type="bot", text="again")
        fanout.publisher.publish(get_channel_layer(), changed=[conversation_id])
        frames = await _frames_until(socket, lambda activities: activities, timeout=3)
        assert [a["text"] for f in frames for a in f["activities"]] == ["again"]
        await socket.disconnect()

    async_to_sync(run)()


def test_a_burst_of_changes_goes_to_the_other_processes_in_few_messages(monkeypatch):
    """Changes that arrive while a message is on its way go together in the next one, each conversation
    once, transients in order."""
    import threading
    import time

    sent = []
    first_taken = threading.Event()
    release = threading.Event()

    class SlowLayer:
        async def group_send(self, group, message):
            sent.append((group, message))
            first_taken.set()
            await asyncio.get_running_loop().run_in_executor(None, release.wait, 5)

    layer = SlowLayer()
    fanout.publisher.publish(layer, changed=["c0"])
    assert first_taken.wait(2)
    for index in range(50):
        fanout.publisher.publish(layer, changed=[f"c{index % 10}"])
    fanout.publisher.publish(layer, transients=[("c1", {"id": "t1"}), ("c1", {"id": "t2"})])
    release.set()
    deadline = time.monotonic() + 3
    while fanout.publisher.pending and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fanout.publisher.pending == 0
    assert [group for group, _ in sent] == [fanout.PROCESSES_GROUP] * 2
    assert sent[0][1]["changed"] == ["c0"]
    assert sent[1][1]["changed"] == [f"c{index}" for index in range(10)]
    assert [activity["id"] for _, activity in sent[1][1]["transients"]] == ["t1", "t2"]
    assert {message["from"] for _, message in sent} == {fanout.process_name()}


def test_a_publisher_that_could_not_start_sending_sends_the_next_notices(monkeypatch):
    """A notice whose sending could not begin (no thread to send it from) is dropped, and the publisher
    is not left waiting for it: the next notice is sent."""
    import threading

    sent = threading.Event()

    class Layer:
        async def group_send(self, group, message):
            sent.set()

    def no_thread():
        raise RuntimeError("can't start new thread")

    with monkeypatch.context() as patched:
        patched.setattr(fanout.publisher, "_running_loop", no_thread)
        with pytest.raises(RuntimeError):
            fanout.publisher.publish(Layer(), changed=["c1"])
    assert fanout.publisher.pending == 0
    fanout.publisher.publish(Layer(), changed=["c2"])
    assert sent.wait(2)


def test_the_socket_handles_its_frames_without_a_hop_to_the_shared_thread(directline, started, monkeypatch):
    # Channels would run close_old_connections on its one thread-sensitive thread before every handler:
    # 300 sockets opening at once queued behind one another there. Every read is a db_phase instead.
    import channels.consumer

    hops = []

    async def close_old_connections_hop():
        hops.append(1)

    monkeypatch.setattr(channels.consumer, "aclose_old_connections", close_old_connections_hop)
    conversation_id, token = started
    stream_url = directline.start(token).json()["streamUrl"]

    async def run():
        socket = await _open(stream_url, past_backlog=True)
        await socket.send_to(text_data="")
        await _send(conversation_id, token, "show me the menu", "dl-user-1")
        await _frames_until(socket, lambda activities: any(a.get("replyToId") for a in activities))
        await socket.disconnect()

    async_to_sync(run)()
    assert hops == []


def test_a_stream_url_with_a_watermark_past_any_message_id_sends_the_whole_backlog(directline, started):
    conversation_id, token = started
    stream_url = directline.start(token).json()["streamUrl"]

    async def run():
        socket = await _open(f"{stream_url}&watermark={'9' * 23}")
        [backlog] = await _frames_until(socket, lambda activities: activities)
        assert [a["text"] for a in backlog["activities"]] == ["Hello from the bot!"]
        await socket.disconnect()

    async_to_sync(run)()
