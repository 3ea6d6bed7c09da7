from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.utils import timezone

from botportal.errors import Conflict, InvalidInput, NotAuthenticated, NotAuthorized
from bots.tests.factories import BotFactory
from sessions_app.models import BotSession, Contact, Conversation, Message
from sessions_app.services.conversations import (
    conversation_end,
    conversation_exchange,
    conversation_exchange_astream,
    conversation_exchange_stream,
    conversation_send,
)
from sessions_app.services.sessions import (
    bot_session_authenticate,
    bot_session_create,
    bot_session_refresh,
    conversation_session_create,
)

pytestmark = pytest.mark.django_db


def test_public_bot_opens_for_anyone_and_stores_initial_messages_in_order(public_bot):
    opened = bot_session_create(
        bot=public_bot,
        actor=None,
        messages=[{"type": "user", "text": "first"}, {"type": "user", "text": "second"}],
        meta={"page": "/pricing"},
    )
    conversation = opened.conversation
    assert conversation.bot == public_bot and conversation.owner == public_bot.owner
    assert [m.text for m in Message.objects.filter(conversation=conversation).order_by("id")] == ["first", "second"]
    assert conversation.meta == {"page": "/pricing"}
    assert bot_session_authenticate(token=opened.issued.token).conversation_id == conversation.id
    assert opened.issued.bot_session.duration_seconds == 3600


def test_a_session_opened_without_messages_announces_nothing(public_bot, django_capture_on_commit_callbacks):
    from sessions_app.services.signals import conversation_changed

    announced = []

    def receiver(sender, conversation_ids, **kwargs):
        announced.append(conversation_ids)

    conversation_changed.connect(receiver, dispatch_uid="test-announced")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            opened = bot_session_create(bot=public_bot, actor=None)
        assert announced == []  # no message stored, so no socket has anything to read again
        with django_capture_on_commit_callbacks(execute=True):
            bot_session_create(bot=public_bot, actor=None, messages=[{"type": "user", "text": "hi"}])
        assert len(announced) == 1
    finally:
        conversation_changed.disconnect(dispatch_uid="test-announced")
    assert opened.messages == []


def test_private_bot_needs_its_owner(bot, other_owner):
    with pytest.raises(NotAuthenticated):
        bot_session_create(bot=bot, actor=None)
    with pytest.raises(NotAuthorized):
        bot_session_create(bot=bot, actor=other_owner)
    assert bot_session_create(bot=bot, actor=bot.owner).issued.token


@pytest.mark.parametrize("duration", [1799, 86401, -5, "3600", 1800.5, True, [3600]])
def test_duration_out_of_bounds_names_the_range(public_bot, duration):
    with pytest.raises(InvalidInput, match="1800 to 86400"):
        bot_session_create(bot=public_bot, actor=None, duration_seconds=duration)
    assert not Conversation.objects.exists()


@pytest.mark.parametrize(
    ("duration", "expected"), [(None, 3600), (0, 3600), (1800, 1800), (86400, 86400), (7200.0, 7200)]
)
def test_duration_defaults_and_bounds(public_bot, duration, expected):
    issued = bot_session_create(bot=public_bot, actor=None, duration_seconds=duration).issued.bot_session
    assert issued.duration_seconds == expected
    assert abs((issued.expires_at - issued.created_at).total_seconds() - expected) < 1


def test_non_user_initial_message_is_refused_and_nothing_is_created(public_bot):
    with pytest.raises(InvalidInput, match=r"messages\[1\]\.type"):
        bot_session_create(
            bot=public_bot,
            actor=None,
            contact={"email": "ann@example.com"},
            messages=[{"type": "user", "text": "hi"}, {"type": "bot", "text": "sneaky"}],
        )
    assert not Conversation.objects.exists()
    assert not Contact.objects.exists()
    assert not BotSession.objects.exists()


def test_the_same_person_returning_reuses_the_contact(public_bot):
    first = bot_session_create(bot=public_bot, actor=None, contact={"name": "Ann", "email": "Ann@Example.com"})
    second = bot_session_create(bot=public_bot, actor=None, contact={"name": "Ann B", "email": "ann@example.COM"})
    assert first.conversation.contact_id == second.conversation.contact_id
    contact = Contact.objects.get()
    assert (contact.email, contact.name) == ("ann@example.com", "Ann B")
    by_phone = bot_session_create(bot=public_bot, actor=None, contact={"phone": "+1 (415) 555-2671"})
    again = bot_session_create(bot=public_bot, actor=None, contact={"phone": "+14155552671"})
    assert by_phone.conversation.contact.phone == "+14155552671"
    assert by_phone.conversation.contact_id == again.conversation.contact_id


@pytest.mark.parametrize("contact", [{"email": "not-an-email"}, {"phone": "12"}, {"phone": 5}, {"age": 4}])
def test_invalid_contact_is_refused(public_bot, contact):
    with pytest.raises(InvalidInput, match="contact"):
        bot_session_create(bot=public_bot, actor=None, contact=contact)
    assert not Conversation.objects.exists()


def test_meta_keys_may_not_start_with_underscore(public_bot):
    with pytest.raises(InvalidInput, match="_secret"):
        bot_session_create(bot=public_bot, actor=None, meta={"_secret": 1})


def test_token_is_refused_the_instant_it_expires_revoked_or_ended(public_bot):
    opened = bot_session_create(bot=public_bot, actor=None)
    token = opened.issued.token
    BotSession.objects.update(expires_at=timezone.now() - timedelta(microseconds=1))
    with pytest.raises(NotAuthenticated, match="expired"):
        bot_session_authenticate(token=token)
    refreshed = bot_session_create(bot=public_bot, actor=None)
    conversation_end(conversation=refreshed.conversation)
    with pytest.raises(NotAuthenticated):
        bot_session_authenticate(token=refreshed.issued.token)
    with pytest.raises(NotAuthenticated):
        bot_session_authenticate(token="made-up")


def test_idle_conversation_refuses_its_token(public_bot, settings):
    opened = bot_session_create(bot=public_bot, actor=None)
    Conversation.objects.update(
        last_activity_at=timezone.now() - timedelta(seconds=settings.BOTPORTAL["IDLE_TIMEOUT"] + 1)
    )
    with pytest.raises(NotAuthenticated, match="idle"):
        bot_session_authenticate(token=opened.issued.token)


def test_refresh_revokes_the_old_token_and_keeps_the_lifetime_limit(public_bot, settings):
    opened = bot_session_create(bot=public_bot, actor=None, duration_seconds=86400)
    session = bot_session_authenticate(token=opened.issued.token)
    fresh = bot_session_refresh(bot_session=session)
    with pytest.raises(NotAuthenticated, match="revoked"):
        bot_session_authenticate(token=opened.issued.token)
    assert bot_session_authenticate(token=fresh.token).conversation_id == opened.conversation.id
    BotSession.objects.update(issued_first_at=timezone.now() - timedelta(days=6, hours=23))
    nearly_old = bot_session_authenticate(token=fresh.token)
    last = bot_session_refresh(bot_session=nearly_old).bot_session
    assert last.expires_at <= last.issued_first_at + timedelta(seconds=settings.BOTPORTAL["SESSION_MAX_LIFETIME"])
    BotSession.objects.update(issued_first_at=timezone.now() - timedelta(days=8))
    with pytest.raises(NotAuthorized, match="maximum lifetime"):
        bot_session_refresh(bot_session=BotSession.objects.get(pk=last.pk))


def test_exchange_stores_the_user_message_and_the_reply(public_bot):
    conversation = bot_session_create(bot=public_bot, actor=None).conversation
    result = conversation_exchange(conversation=conversation, text="hello?")
    assert result.user_message.text == "hello?"
    assert result.bot_message.text == public_bot.fallback_message
    assert list(Message.objects.filter(conversation=conversation).values_list("type", flat=True)) == ["user", "bot"]


def test_a_turn_without_the_network_is_stored_whole_before_it_streams(public_bot):
    conversation = bot_session_create(bot=public_bot, actor=None).conversation
    stream = conversation_exchange_stream(conversation=conversation, text="hello?")
    assert isinstance(next(stream), str)
    stream.close()
    assert list(Message.objects.filter(conversation=conversation).values_list("type", flat=True)) == ["user", "bot"]


def test_an_abandoned_network_turn_keeps_its_message_waiting_and_frees_the_conversation(
    public_bot, llm_settings, fake_upstream
):
    public_bot.model = "fake/any"
    public_bot.save()
    conversation = bot_session_create(bot=public_bot, actor=None).conversation

    async def abandon():
        stream = conversation_exchange_astream(conversation=conversation, text="hello?")
        assert await anext(stream) == "tok "
        await stream.aclose()

    async_to_sync(abandon)()
    assert list(Message.objects.filter(conversation=conversation).values_list("type", flat=True)) == ["user"]
    conversation.refresh_from_db()
    assert conversation.turn_ticket == conversation.turn_served == 1
    # The message waits for a reply: receive answers it.
    result = conversation_exchange(conversation=conversation, text=None, store_user_message=False)
    assert result.bot_message.text == "tok tok tok "
    assert list(Message.objects.filter(conversation=conversation).values_list("type", flat=True)) == ["user", "bot"]


def test_welcome_messages_open_the_conversation():
    bot = BotFactory(visibility="public", welcome_messages=["Hello!", "Ask me anything."])
    opened = bot_session_create(bot=bot, actor=None, messages=[{"type": "user", "text": "hi"}])
    assert [(m.type, m.text) for m in opened.messages] == [("bot", "Hello!\n\nAsk me anything."), ("user", "hi")]


def test_a_model_backed_bot_opens_its_session_without_reading_messages_its_turn_reads_them(
    public_bot, llm_settings, fake_upstream
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    public_bot.model, public_bot.welcome_messages = "fake/any", ["Hello!"]
    public_bot.save()
    fake_upstream.config.tokens, fake_upstream.config.interval = 2, 0
    message_reads = lambda queries: [  # noqa: E731
        q["sql"] for q in queries if q["sql"].startswith("SELECT") and f'FROM "{Message._meta.db_table}"' in q["sql"]
    ]
    with CaptureQueriesContext(connection) as opening:
        opened = bot_session_create(bot=public_bot, actor=None, messages=[{"type": "user", "text": "hi"}])
    # Nothing is read of a conversation being created: its welcome is never a model's answer.
    assert message_reads(opening.captured_queries) == []
    assert [m.text for m in opened.messages] == ["Hello!", "hi"]
    with CaptureQueriesContext(connection) as answering:
        result = conversation_exchange(conversation=opened.conversation, text="and you?")
    assert result.bot_message.text == "tok tok "
    assert len(message_reads(answering.captured_queries)) == 1  # the model is shown the conversation so far
    # A message kept for a later answer (send, then receive) has its entities found without the history.
    with CaptureQueriesContext(connection) as sending:
        conversation_send(conversation=opened.conversation, text="later, please")
    assert message_reads(sending.captured_queries) == []


def test_conversation_session_for_an_ended_conversation_is_refused(public_bot):
    opened = bot_session_create(bot=public_bot, actor=None)
    assert conversation_session_create(conversation=opened.conversation, actor=public_bot.owner).token
    conversation_end(conversation=opened.conversation)
    with pytest.raises(Conflict, match="ended"):
        conversation_session_create(conversation=opened.conversation, actor=public_bot.owner)


def test_variable_defaults_seed_new_conversations_and_follow_the_definition(public_bot):
    from bots.tests.factories import VariableFactory

    variable = VariableFactory(bot=public_bot, name="language", type="text", default="en")
    VariableFactory(bot=public_bot, name="orderNumber", type="text", default=None)
    public_bot.refresh_from_db()
    first = bot_session_create(bot=public_bot, actor=None).conversation
    assert first.variables == {"language": "en"}

    variable.default = "fr"
    variable.save()  # a definition change: the bot's version moves on
    public_bot.refresh_from_db()
    second = bot_session_create(bot=public_bot, actor=None).conversation
    assert second.variables == {"language": "fr"}
    first.refresh_from_db()
    assert first.variables == {"language": "en"}


def test_a_session_opened_for_a_contact_is_not_asked_what_the_contact_says(owner):
    import json
    from pathlib import Path

    from bots.services.bot_definitions import bot_import

    document = json.loads((Path(__file__).resolve().parents[3] / "examples" / "order-assistant.json").read_text())
    bot = bot_import(owner=owner, document=document)
    opened = bot_session_create(bot=bot, actor=None, contact={"email": "Ann@Example.com"})
    assert opened.conversation.variables["email"] == "ann@example.com"
    result = conversation_exchange(conversation=opened.conversation, text="where is my order")
    assert result.reply.messages[-1]["text"].startswith("What is your order number?")
    result = conversation_exchange(conversation=opened.conversation, text="123456")
    assert result.reply.messages[0]["text"] == (
        "Thanks! Order 123456 for ann@example.com shipped and should arrive within 2 business days."
    )


def test_a_turn_whose_client_leaves_while_it_waits_gives_its_turn_up(public_bot, llm_settings, fake_upstream):
    import asyncio

    from botportal.asyncdb import db_phase

    public_bot.model = "fake/any"
    public_bot.save()
    fake_upstream.config.tokens, fake_upstream.config.interval = 5, 0.05
    conversation = bot_session_create(bot=public_bot, actor=None).conversation
    tickets = db_phase(lambda: Conversation.objects.values_list("turn_ticket", "turn_served").get(pk=conversation.pk))

    async def whole(text):
        return [piece async for piece in conversation_exchange_astream(conversation=conversation, text=text)]

    async def until(condition):
        for _ in range(200):
            if condition(await tickets()):
                return
            await asyncio.sleep(0.01)
        raise AssertionError("timed out")

    async def scenario():
        first = asyncio.ensure_future(whole("one"))
        await until(lambda t: t == (1, 0))  # the first turn waits on the model
        second = asyncio.ensure_future(whole("two"))
        await until(lambda t: t == (2, 0))  # the second took a ticket and waits behind it
        second.cancel()
        await first
        # The abandoned ticket is passed as soon as it is due, not after TURN_TIMEOUT.
        await until(lambda t: t == (2, 2))

    async_to_sync(scenario)()
    assert list(Message.objects.filter(conversation=conversation).values_list("type", "text")) == [
        ("user", "one"),
        ("bot", "tok " * 5),
    ]
