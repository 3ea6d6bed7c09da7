"""One core, two protocols: a conversation begun over Einstein is the same conversation over /api/v1,
and the same bot answers the same text the same way whichever protocol asked."""

import pytest

from bots.tests.factories import IntentFactory, UtteranceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def order_bot(bot):
    bot.welcome_messages = ["Hello! Ask me about your order."]
    bot.save()
    intent = IntentFactory(bot=bot, label="order_status", responses=[{"type": "text", "text": "Let me check that."}])
    UtteranceFactory(intent=intent, text="where is my order")
    return bot


def _einstein_texts(response) -> list[str]:
    return [message["text"] for message in response.json()["messages"] if message["type"] == "text"]


def test_einstein_conversation_is_listed_over_chatbotkit_in_order(einstein, owner_client, order_bot):
    begun = einstein.begin(order_bot, message={"text": "where is my order"})
    assert begun.status_code == 200, begun.json()
    session_id = begun.json()["sessionId"]
    follow_up = einstein.send(session_id, {"type": "text", "sequenceId": 1, "text": "and my refund?"})
    assert follow_up.status_code == 200, follow_up.json()

    listed = owner_client.get(f"/api/v1/conversation/{session_id}/message/list")
    assert listed.status_code == 200, listed.json()
    items = listed.json()["items"]
    assert [(item["type"], item["text"]) for item in items] == [
        ("bot", "Hello! Ask me about your order."),
        ("user", "where is my order"),
        ("bot", "\n\n".join(_einstein_texts(begun)[1:])),
        ("user", "and my refund?"),
        ("bot", "\n\n".join(_einstein_texts(follow_up))),
    ]
    fetched = owner_client.get(f"/api/v1/conversation/{session_id}/fetch").json()
    assert fetched["botId"] == str(order_bot.pk)


@pytest.mark.parametrize("text", ["where is my order", "something the bot never heard of"])
def test_the_same_text_gets_the_same_answer_over_both_protocols(einstein, owner_client, order_bot, text):
    einstein_reply = einstein.begin(order_bot, message={"text": text})
    assert einstein_reply.status_code == 200, einstein_reply.json()
    einstein_answer = "\n\n".join(_einstein_texts(einstein_reply)[1:])  # after the welcome

    opened = owner_client.post(f"/api/v1/bot/{order_bot.pk}/session/create", {}, format="json").json()
    owner_client.credentials(HTTP_AUTHORIZATION=f"Bearer {opened['token']}")
    completed = owner_client.post(
        f"/api/v1/conversation/{opened['conversationId']}/complete", {"text": text}, format="json"
    )
    assert completed.status_code == 200, completed.json()
    assert completed.json()["text"] == einstein_answer
    if text == "where is my order":
        assert einstein_answer == "Let me check that."
    else:
        assert einstein_answer == order_bot.fallback_message
