"""What the widget needs from the /api/v1 session routes: rich bot messages, and CORS on real answers."""

import pytest

from bots import engine
from bots.engine import EngineReply
from bots.tests.factories import BotFactory
from sessions_app.tests.apis.helpers import jsonl_events, open_session, post, scripted_turn_run, token_client

pytestmark = pytest.mark.django_db

SHOP = "https://shop.example"
RICH = [
    {"type": "text", "text": "We open at nine."},
    {"type": "choices", "text": "Anything else?", "choices": [{"id": "c1", "label": "Map", "intent": "map"}]},
    {"type": "link", "text": "Our shop", "url": "https://maps.example/shop"},
]


@pytest.fixture
def rich_engine(monkeypatch):
    def stream(turn):
        yield EngineReply(messages=RICH, variables=dict(turn.variables), state=dict(turn.state))

    monkeypatch.setattr(engine, "TurnRun", scripted_turn_run(stream))


def test_a_streamed_reply_carries_the_engines_messages_in_its_message_event(anon_client, public_bot, rich_engine):
    session = open_session(anon_client, public_bot)

    response = post(
        token_client(session["token"]),
        f"/api/v1/conversation/{session['conversationId']}/complete",
        {"text": "When do you open?"},
        HTTP_ACCEPT="application/jsonl",
    )

    events = jsonl_events(response)
    assert "".join(e["data"]["token"] for e in events if e["type"] == "token") == EngineReply(messages=RICH).text
    (message,) = [e["data"] for e in events if e["type"] == "message"]
    assert message["type"] == "bot"
    assert message["meta"] == {"messages": RICH}
    result = events[-1]
    assert result["type"] == "result"
    assert set(result["data"]) == {"id", "text", "usage", "end"}  # the plain body stays ChatBotKit's
    assert result["data"]["id"] == message["id"]


def test_history_lists_the_rich_messages_for_a_returning_visitor(anon_client, public_bot, rich_engine):
    session = open_session(anon_client, public_bot)
    client = token_client(session["token"])
    post(client, f"/api/v1/conversation/{session['conversationId']}/complete", {"text": "When do you open?"})

    response = client.get(f"/api/v1/conversation/{session['conversationId']}/message/list", {"order": "asc"})

    assert response.status_code == 200
    items = response.json()["items"]
    assert [item["type"] for item in items][-2:] == ["user", "bot"]
    assert items[-1]["meta"] == {"messages": RICH}


def test_session_create_answers_the_allowed_origin_and_no_other(anon_client, owner):
    bot = BotFactory(owner=owner, visibility="public", allowed_origins=[SHOP])

    allowed = post(anon_client, f"/api/v1/bot/{bot.pk}/session/create", HTTP_ORIGIN=SHOP)
    other = post(anon_client, f"/api/v1/bot/{bot.pk}/session/create", HTTP_ORIGIN="https://evil.example")

    assert allowed.status_code == 200
    assert allowed["Access-Control-Allow-Origin"] == SHOP
    assert "Access-Control-Allow-Origin" not in other


def test_conversation_routes_answer_the_allowed_origin(anon_client, owner):
    bot = BotFactory(owner=owner, visibility="public", allowed_origins=[SHOP])
    session = open_session(anon_client, bot)

    response = token_client(session["token"]).get(
        f"/api/v1/conversation/{session['conversationId']}/message/list", HTTP_ORIGIN=SHOP
    )

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == SHOP


def test_a_page_posting_text_plain_from_anywhere_opens_nothing(anon_client, public_bot):
    # A browser sends a text/plain POST without asking first (no CORS preflight): it must not open a session.
    response = anon_client.post(
        f"/api/v1/bot/{public_bot.pk}/session/create", "{}", content_type="text/plain", HTTP_ORIGIN="https://evil.example"
    )

    assert 400 <= response.status_code < 500
    assert public_bot.conversations.count() == 0
