import threading
from datetime import timedelta

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from bots import engine
from bots.engine import DetectedEntity, DetectedIntent, EngineReply
from bots.tests.factories import IntentFactory, UtteranceFactory, VariableFactory
from sessions_app.models import Conversation, Message
from sessions_app.tests.apis.helpers import scripted_turn_run

pytestmark = pytest.mark.django_db

MENU = {
    "type": "choices",
    "text": "What is it about?",
    "choices": [
        {"id": "c-orders", "label": "Orders", "intent": "orders"},
        {"id": "c-billing", "label": "Billing", "intent": "billing"},
    ],
}


class ScriptedEngine:
    """Stands in for the engine so that every kind of bot message can be rendered and checked."""

    def __init__(self):
        self.turns = []

    def __call__(self, turn):
        self.turns.append(turn)
        text = (turn.text or "").lower()
        variables = dict(turn.variables)
        if turn.choice_id:
            reply = EngineReply(messages=[{"type": "text", "text": f"You chose {turn.choice_id}"}])
        elif text == "menu":
            reply = EngineReply(messages=[MENU])
        elif text == "agent":
            target = {"type": "queue", "target": "00G1"}
            reply = EngineReply(messages=[{"type": "escalate", "text": "Connecting you.", "targets": [target]}])
        elif text == "doc":
            reply = EngineReply(
                messages=[{"type": "link", "text": "The manual", "url": "https://example.com/manual.pdf"}]
            )
        elif text == "bye":
            reply = EngineReply(messages=[{"type": "end", "text": "Goodbye!"}], ended=True)
        else:
            variables["email"] = "ann@example.com"
            reply = EngineReply(
                messages=[{"type": "text", "text": f"echo: {turn.text}"}],
                intents=[DetectedIntent("greeting", 1.0, "DIRECT"), DetectedIntent("smalltalk", 0.42, "CORE_NLP")],
                entities=[DetectedEntity("EMAIL", "ann@example.com", "ann@example.com", 0.99)],
                changed_variables={"email"},
            )
        reply.variables = variables
        # As the engine does: the choices on offer are those of this reply, recorded in its state.
        offered = [
            choice for message in reply.messages if message["type"] == "choices" for choice in message["choices"]
        ]
        reply.state = {**turn.state, "choices": offered}
        yield reply


@pytest.fixture
def scripted(monkeypatch):
    fake = ScriptedEngine()
    monkeypatch.setattr(engine, "TurnRun", scripted_turn_run(fake))
    return fake


@pytest.fixture
def session_id(einstein, bot):
    VariableFactory(bot=bot, name="email", type="text")
    VariableFactory(bot=bot, name="qty", type="number", default=1)
    return einstein.begin(bot).json()["sessionId"]


def text(value, seq):
    return {"type": "text", "text": value, "sequenceId": seq}


def test_text_turn_stores_the_user_and_bot_messages_with_the_sequence_id(einstein, scripted, session_id):
    response = einstein.send(session_id, text("hello", 1))
    assert response.status_code == 200
    body = response.json()
    assert body["processedSequenceIds"] == [1]
    assert [(m["type"], m["text"]) for m in body["messages"]] == [("text", "echo: hello")]
    assert "sessionId" not in body and body["_links"]["self"]["href"].endswith(f"/sessions/{session_id}/messages")
    assert response["X-Runtime-CRC"]
    user = Message.objects.get(conversation_id=session_id, type="user")
    assert user.sequence_id == 1 and user.text == "hello"


def test_intents_entities_variables_and_metrics_on_request(einstein, scripted, session_id):
    options = {
        "intents": True,
        "entities": True,
        "metrics": True,
        "variables": {"include": True, "onlyChanged": True},
    }
    body = einstein.send(session_id, text("hello", 1), responseOptions=options).json()
    assert body["intents"] == [
        {"label": "greeting", "confidenceScore": 1.0, "intentSource": "DIRECT"},
        {"label": "smalltalk", "confidenceScore": 0.42, "intentSource": "CORE_NLP"},
    ]
    assert body["entities"] == [
        {"confidenceScore": 0.99, "value": "ann@example.com", "type": "EMAIL", "entitySource": "BOT_SERVICE"}
    ]
    assert body["variables"] == [{"name": "email", "type": "text", "value": "ann@example.com"}]
    assert isinstance(body["metrics"], dict)
    options["variables"]["onlyChanged"] = False
    body = einstein.send(session_id, text("again", 2), responseOptions=options).json()
    assert {v["name"]: v["value"] for v in body["variables"]} == {"email": "ann@example.com", "qty": 1}


def test_choices_are_answered_by_id_or_by_index(einstein, scripted, session_id):
    body = einstein.send(session_id, text("menu", 1)).json()
    question, choices = body["messages"]
    assert question == {"type": "text", "id": question["id"], "text": "What is it about?"}
    assert choices["type"] == "choices" and choices["widget"] == "buttons"
    assert [(c["id"], c["label"], c["alias"]) for c in choices["choices"]] == [
        ("c-orders", "Orders", "1"),
        ("c-billing", "Billing", "2"),
    ]
    body = einstein.send(session_id, {"type": "choice", "choiceId": "c-billing", "sequenceId": 2}).json()
    assert body["messages"][0]["text"] == "You chose c-billing"
    assert scripted.turns[-1].choice_id == "c-billing"
    einstein.send(session_id, text("menu", 3))
    body = einstein.send(session_id, {"type": "choice", "choiceIndex": 1, "sequenceId": 4}).json()
    assert body["messages"][0]["text"] == "You chose c-orders"
    user = Message.objects.filter(conversation_id=session_id, type="user").order_by("-id").first()
    assert user.text == "Orders" and user.sequence_id == 4


def test_invalid_choices_are_400(einstein, scripted, session_id):
    response = einstein.send(session_id, {"type": "choice", "choiceIndex": 1, "sequenceId": 1})
    assert response.status_code == 400 and "no choices" in response.json()["message"]
    einstein.send(session_id, text("menu", 2))
    response = einstein.send(session_id, {"type": "choice", "choiceIndex": 3, "sequenceId": 3})
    assert response.status_code == 400 and "1 to 2" in response.json()["message"]
    response = einstein.send(session_id, {"type": "choice", "choiceId": "c-nope", "sequenceId": 4})
    assert response.status_code == 400 and "c-nope" in response.json()["message"]
    response = einstein.send(session_id, {"type": "choice", "sequenceId": 5})
    assert response.status_code == 400 and "choiceIndex" in response.json()["message"]
    # Refused turns are not processed: the next sequenceId may be any greater one.
    assert einstein.send(session_id, {"type": "choice", "choiceIndex": 2, "sequenceId": 3}).status_code == 200


def test_escalation_targets(einstein, scripted, session_id):
    body = einstein.send(session_id, text("agent", 1)).json()
    assert body["messages"][0]["text"] == "Connecting you."
    assert body["messages"][1]["type"] == "escalate"
    assert body["messages"][1]["targets"] == [{"type": "Salesforce:Core:Queue:Id", "value": "00G1"}]


def test_links_are_text_unless_static_content_was_declared(einstein, scripted, bot):
    plain = einstein.begin(bot).json()["sessionId"]
    body = einstein.send(plain, text("doc", 1)).json()
    assert body["messages"] == [
        {"type": "text", "id": body["messages"][0]["id"], "text": "The manual\nhttps://example.com/manual.pdf"}
    ]
    rich = einstein.begin(
        bot,
        richContentCapabilities={
            "messageTypes": [{"messageType": "StaticContentMessage", "formatTypes": [{"formatType": "Attachments"}]}]
        },
    ).json()["sessionId"]
    body = einstein.send(rich, text("doc", 1)).json()
    definition = body["messages"][-1]
    assert definition["type"] == "messageDefinition" and definition["messageType"] == "StaticContentMessage"
    attachment = definition["staticContent"]["attachments"][0]
    assert definition["staticContent"]["formatType"] == "Attachments"
    assert attachment["url"] == "https://example.com/manual.pdf" and attachment["mimeType"] == "application/pdf"
    text_only = einstein.begin(
        bot,
        richContentCapabilities={
            "messageTypes": [{"messageType": "StaticContentMessage", "formatTypes": [{"formatType": "Text"}]}]
        },
    ).json()["sessionId"]
    body = einstein.send(text_only, text("doc", 1)).json()
    assert body["messages"][-1]["staticContent"] == {"formatType": "Text", "text": "https://example.com/manual.pdf"}


def test_the_bot_ending_the_session(einstein, scripted, session_id):
    body = einstein.send(session_id, text("bye", 1)).json()
    assert [m["type"] for m in body["messages"]] == ["text", "sessionEnded"]
    assert body["messages"][1]["reason"] == "Action"
    assert Conversation.objects.get(pk=session_id).ended_at is not None
    response = einstein.send(session_id, text("hello?", 2))
    assert response.status_code == 404 and "ended" in response.json()["message"]


def test_transfer_succeeded_and_failed(einstein, scripted, session_id):
    body = einstein.send(session_id, {"type": "transferSucceeded", "sequenceId": 1}).json()
    assert body["messages"] == []
    body = einstein.send(
        session_id, {"type": "transferFailed", "reason": "NoAgentAvailable", "description": "closed", "sequenceId": 2}
    ).json()
    assert body["messages"][0]["type"] == "text"
    activities = Message.objects.filter(conversation_id=session_id, type="activity").order_by("id")
    assert [(a.sequence_id, a.text) for a in activities] == [
        (1, "Transfer succeeded."),
        (2, "Transfer failed: NoAgentAvailable (closed)"),
    ]
    bad = einstein.send(session_id, {"type": "transferFailed", "reason": "Lunch", "sequenceId": 3})
    assert bad.status_code == 400 and "reason" in bad.json()["message"]


def test_redirect_runs_the_named_dialog(einstein, scripted, bot, session_id):
    intent = IntentFactory(bot=bot, label="Order_Status")
    UtteranceFactory(intent=intent, text="where is my order")
    body = einstein.send(session_id, {"type": "redirect", "dialogId": "Order_Status", "sequenceId": 1}).json()
    assert body["messages"][0]["text"] == "echo: where is my order"
    response = einstein.send(session_id, {"type": "redirect", "dialogId": "Nope", "sequenceId": 2})
    assert response.status_code == 400 and "dialogId" in response.json()["message"]


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"message": {"type": "text", "text": "hi"}}, "sequenceId"),
        ({"message": {"type": "text", "text": "hi", "sequenceId": "1"}}, "sequenceId"),
        ({"message": {"type": "text", "sequenceId": 1}}, "message.text"),
        ({"message": {"type": "text", "text": "", "sequenceId": 1}}, "message.text"),
        ({"message": {"type": "shout", "text": "hi", "sequenceId": 1}}, "message.type"),
        ({"message": {"type": "text", "text": "hi", "sequenceId": 1, "mood": "ok"}}, "message.mood"),
        ({"message": {"type": "text", "text": "hi", "sequenceId": 1}, "extra": True}, "extra"),
        ({"responseOptions": {}}, "message"),
        ({"message": {"type": "redirect", "sequenceId": 1}}, "dialogId"),
    ],
)
def test_malformed_messages_are_400_naming_the_field(einstein, session_id, body, named):
    response = einstein.post(f"/v5.0.0/sessions/{session_id}/messages", body)
    assert response.status_code == 400, response.json()
    assert named in response.json()["message"]


def test_malformed_json_and_content_type_on_continue(einstein, session_id):
    path = f"/v5.0.0/sessions/{session_id}/messages"
    assert einstein.post(path, raw='{"message": ').status_code == 400
    assert einstein.post(path, raw="message=hi", content_type="application/x-www-form-urlencoded").status_code == 400


# --- sequenceId -----------------------------------------------------------------------------------


def test_identical_retry_returns_the_stored_response_without_processing_twice(einstein, scripted, session_id):
    first = einstein.send(session_id, text("hello", 1))
    count = Message.objects.filter(conversation_id=session_id).count()
    again = einstein.send(session_id, text("hello", 1))
    assert again.status_code == 200 and again.json() == first.json()
    assert Message.objects.filter(conversation_id=session_id).count() == count
    assert len(scripted.turns) == 1


def test_non_increasing_sequence_ids_are_400_naming_the_last_processed(einstein, scripted, session_id):
    einstein.send(session_id, text("hello", 5))
    changed = einstein.send(session_id, text("something else", 5))
    assert changed.status_code == 400 and "last processed sequenceId 5" in changed.json()["message"]
    older = einstein.send(session_id, text("hello", 4))
    assert older.status_code == 400 and "5" in older.json()["message"]
    assert einstein.send(session_id, text("next", 6)).status_code == 200
    assert Message.objects.filter(conversation_id=session_id, type="user").count() == 2


def test_a_second_request_while_one_is_processed_is_423(einstein, scripted, session_id):
    # Another request's turn is in progress (it waits on the network, nothing locked).
    Conversation.objects.filter(pk=session_id).update(turn_ticket=1, turn_served=0, turn_since=timezone.now())
    response = einstein.send(session_id, text("hello", 1))
    assert response.status_code == 423 and response.json()["error"] == "ServerBusyError"
    Conversation.objects.filter(pk=session_id).update(turn_served=1)
    assert not Message.objects.filter(conversation_id=session_id, type="user").exists()
    # The refused request was not processed; sending it again works.
    assert einstein.send(session_id, text("hello", 1)).status_code == 200


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_row_locked_by_another_process_is_423_on_postgresql(einstein, scripted, session_id):
    if connection.vendor != "postgresql":
        pytest.skip("row locks with NOWAIT are PostgreSQL's")
    locked, release = threading.Event(), threading.Event()

    def hold_lock():
        try:
            with transaction.atomic():
                Conversation.objects.select_for_update().get(pk=session_id)
                locked.set()
                release.wait(10)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_lock)
    holder.start()
    try:
        assert locked.wait(10)
        response = einstein.send(session_id, text("hello", 1))
        assert response.status_code == 423 and response.json()["error"] == "ServerBusyError"
    finally:
        release.set()
        holder.join()
    assert einstein.send(session_id, text("hello", 1)).status_code == 200


# --- who may continue -----------------------------------------------------------------------------


def test_other_owner_and_wrong_org_id_are_404(einstein, einstein_other, session_id, other_owner):
    assert einstein_other.send(session_id, text("hello", 1)).status_code == 404
    assert einstein.send(session_id, text("hello", 1), headers={"X-Org-Id": "00DWRONG0000000AAA"}).status_code == 404
    assert einstein.send("not-a-uuid", text("hello", 1)).status_code == 404
    assert einstein.send(session_id, text("hello", 1), headers={"X-Org-Id": None}).status_code == 400
    assert einstein.send(session_id, text("hello", 1), headers={"Authorization": None}).status_code == 401


def test_an_idle_session_is_ended_with_expiration_at_request_time(einstein, scripted, session_id, settings):
    Conversation.objects.filter(pk=session_id).update(
        last_activity_at=timezone.now() - timedelta(seconds=settings.BOTPORTAL["IDLE_TIMEOUT"] + 60)
    )
    response = einstein.send(session_id, text("hello", 1))
    assert response.status_code == 404 and "ended" in response.json()["message"]
    conversation = Conversation.objects.get(pk=session_id)
    assert conversation.end_reason == "Expiration" and conversation.ended_at is not None
    assert not scripted.turns


def test_the_whole_transcript_is_stored_in_order(einstein, scripted, bot):
    bot.welcome_messages = ["Welcome!"]
    bot.save()
    sid = einstein.begin(bot, message={"text": "first"}).json()["sessionId"]
    einstein.send(sid, text("second", 1))
    einstein.send(sid, text("menu", 2))
    einstein.send(sid, {"type": "choice", "choiceIndex": 2, "sequenceId": 3})
    einstein.end(sid)
    stored = Message.objects.filter(conversation_id=sid).order_by("id")
    assert [(m.type, m.text, m.sequence_id) for m in stored] == [
        ("bot", "Welcome!", None),
        ("user", "first", None),
        ("bot", "echo: first", None),
        ("user", "second", 1),
        ("bot", "echo: second", None),
        ("user", "menu", 2),
        ("bot", "What is it about?", None),
        ("user", "Billing", 3),
        ("bot", "You chose c-billing", None),
    ]
    conversation = Conversation.objects.get(pk=sid)
    assert conversation.origin == "einstein" and conversation.end_reason == "UserRequest"


def test_choices_from_an_earlier_reply_are_no_longer_on_offer(einstein, scripted, session_id):
    assert einstein.send(session_id, text("menu", 1)).status_code == 200
    assert einstein.send(session_id, text("hello", 2)).status_code == 200  # a reply without choices
    response = einstein.send(session_id, {"type": "choice", "choiceId": "c-orders", "sequenceId": 3})
    assert response.status_code == 400 and "c-orders" in response.json()["message"]


def test_a_text_turn_takes_six_statements_and_its_transaction(einstein, bot, django_assert_max_num_queries):
    session = einstein.begin(bot).json()["sessionId"]
    for seq in (1, 2):  # the bot's classifier and the key's "last used" stamp are warm after these
        assert einstein.send(session, text(f"hello {seq}", seq)).status_code == 200
    # The API key with its owner's org id, the session with its Einstein state; then one transaction:
    # the row lock (the sequence state read in the same statement), one INSERT of both messages, one
    # UPDATE of the Einstein state with the stored response and one of the conversation's state (the
    # test's savepoint pair stands for BEGIN and COMMIT). No cache round trip: the in-progress marker is
    # the conversation's own.
    with django_assert_max_num_queries(8):
        assert einstein.send(session, text("hello 3", 3)).status_code == 200
