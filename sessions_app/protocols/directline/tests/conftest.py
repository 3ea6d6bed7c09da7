import pytest
from django.test import Client

from bots.tests.factories import BotFactory, IntentFactory, UtteranceFactory
from sessions_app.protocols.directline.services import directline_secret_create


@pytest.fixture
def dl_bot(owner):
    bot = BotFactory(owner=owner, name="Order helper", visibility="private", welcome_messages=["Hello from the bot!"])
    menu = IntentFactory(
        bot=bot,
        label="menu",
        responses=[
            {"type": "text", "text": "Here is the menu."},
            {"type": "choices", "text": "Pick one", "choices": [{"label": "Orders", "intent": "orders"},
                                                                 {"label": "Refunds", "intent": "refunds"}]},
        ],
    )
    UtteranceFactory(intent=menu, text="show me the menu")
    orders = IntentFactory(
        bot=bot,
        label="orders",
        responses=[{"type": "link", "text": "Track it here", "url": "https://shop.example/track"}],
    )
    UtteranceFactory(intent=orders, text="where is my order")
    bye = IntentFactory(bot=bot, label="bye", responses=[{"type": "end", "text": "Goodbye!"}])
    UtteranceFactory(intent=bye, text="goodbye for now")
    human = IntentFactory(
        bot=bot, label="human", responses=[{"type": "escalate", "text": "Connecting you.", "targets": ["queue-1"]}]
    )
    UtteranceFactory(intent=human, text="talk to a human")
    return bot


@pytest.fixture
def dl_secret(dl_bot):
    return directline_secret_create(bot=dl_bot, name="site")[1]


class DirectLine:
    """A Direct Line client over Django's test client."""

    def __init__(self):
        self.client = Client()

    def call(self, method, path, credential=None, body=None, **extra):
        headers = {}
        if credential is not None:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {credential}"
        headers.update(extra)
        kwargs = {"content_type": "application/json", "data": body} if body is not None else {}
        return getattr(self.client, method)(f"/v3/directline/{path}", **kwargs, **headers)

    def generate(self, secret, body=None, **extra):
        return self.call("post", "tokens/generate", secret, body, **extra)

    def start(self, credential, **extra):
        return self.call("post", "conversations", credential, **extra)

    def poll(self, token, conversation_id, watermark=None, **extra):
        query = f"?watermark={watermark}" if watermark is not None else ""
        return self.call("get", f"conversations/{conversation_id}/activities{query}", token, **extra)

    def send(self, token, conversation_id, text, **fields):
        activity = {"type": "message", "from": {"id": "dl-user-1", "name": "Ann"}, "text": text, **fields}
        return self.call("post", f"conversations/{conversation_id}/activities", token, activity)


@pytest.fixture
def directline():
    return DirectLine()


@pytest.fixture
def started(directline, dl_secret):
    """(conversationId, token) of a conversation begun with tokens/generate."""
    body = directline.generate(dl_secret, {"user": {"id": "dl-user-1", "name": "Ann"}}).json()
    return body["conversationId"], body["token"]
