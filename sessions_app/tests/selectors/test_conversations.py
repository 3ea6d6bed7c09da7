"""The hand-written conversation reads give exactly what the ORM gives."""

import json
import threading
import uuid

import pytest
from django.db import OperationalError, connection, connections, transaction

from botportal.rows import JsonText
from bots.tests.factories import UserFactory
from sessions_app.models import Conversation
from sessions_app.protocols.einstein.models import EinsteinSession
from sessions_app.selectors.conversations import conversation_with_bot, message_history, message_row_page, message_rows
from sessions_app.tests.factories import ConversationFactory, MessageFactory
from tests.model_fields import field_values

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation():
    conversation = ConversationFactory()
    MessageFactory(conversation=conversation, type="user", text="Where is my order?")
    MessageFactory(
        conversation=conversation,
        type="bot",
        text="Which one?",
        name="ask",
        description="asks for the order",
        meta={"messages": [{"type": "choices", "choices": [{"label": "A-17"}]}], "n": None},
    )
    for index in range(5):
        MessageFactory(conversation=conversation, text=f"q{index}")
    MessageFactory(conversation=ConversationFactory(), text="another conversation's")
    return conversation


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize("take", [1, 3, 100])
@pytest.mark.parametrize("after_index", [None, 0, 3, 6])
def test_pages_match_the_orm(conversation, order, take, after_index):
    rows = message_rows(conversation_id=conversation.pk)
    ids = list(rows.order_by("id").values_list("id", flat=True))
    after = None if after_index is None else ids[after_index]
    expected = rows.order_by("id" if order == "asc" else "-id")
    if after is not None:
        expected = expected.filter(id__gt=after) if order == "asc" else expected.filter(id__lt=after)

    page = message_row_page(conversation_id=conversation.pk, take=take, order=order, after=after)

    assert page == list(expected[:take])


def test_rows_hold_aware_datetimes_and_parsed_meta(conversation):
    page = message_row_page(conversation_id=conversation.pk, take=2, order="asc")

    assert [row["type"] for row in page] == ["user", "bot"]
    assert all(row["created_at"].tzinfo is not None and row["updated_at"].tzinfo is not None for row in page)
    assert page[1]["meta"]["messages"][0]["choices"] == [{"label": "A-17"}]


def test_conversation_with_bot_loads_both_as_the_orm_does():
    conversation = ConversationFactory(variables={"orderNumber": "A-17"}, engine_state={"slot": "order"})

    loaded = conversation_with_bot(conversation_id=conversation.pk)

    expected = Conversation.objects.select_related("bot").get(pk=conversation.pk)
    assert field_values(loaded) == field_values(expected)
    assert field_values(loaded.bot) == field_values(expected.bot)


def test_a_protocols_state_is_loaded_in_the_same_statement_as_the_orm_does(django_assert_num_queries):
    conversation = ConversationFactory()
    EinsteinSession.objects.create(conversation=conversation, last_sequence_id=9, rich_content={"S": ["Text"]})
    bare = ConversationFactory(owner=conversation.owner, bot=conversation.bot)

    with django_assert_num_queries(2):
        loaded = conversation_with_bot(conversation_id=conversation.pk, also=("einstein",))
        without = conversation_with_bot(conversation_id=bare.pk, also=("einstein",))
        # Cached both ways, as select_related caches them; a missing row is DoesNotExist, not a query.
        assert loaded.einstein.conversation is loaded
        with pytest.raises(EinsteinSession.DoesNotExist):
            _ = without.einstein

    expected = Conversation.objects.select_related("bot", "einstein").get(pk=conversation.pk)
    assert field_values(loaded) == field_values(expected)
    assert field_values(loaded.einstein) == field_values(expected.einstein)
    assert loaded.einstein.last_sequence_id == 9 and loaded.einstein.rich_content == {"S": ["Text"]}
    with pytest.raises(ValueError, match="reverse one-to-one"):
        conversation_with_bot(conversation_id=conversation.pk, also=("messages",))


def test_conversation_without_a_bot_is_found_with_none():
    conversation = ConversationFactory(bot=None, owner=UserFactory(), bot_version=None)

    loaded = conversation_with_bot(conversation_id=conversation.pk)

    assert loaded.pk == conversation.pk and loaded.bot is None


def test_an_unknown_conversation_is_none():
    assert conversation_with_bot(conversation_id=uuid.uuid4()) is None


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite locks the whole database per transaction")
@pytest.mark.django_db(transaction=True)
def test_for_update_locks_the_conversation_row_only():
    conversation = ConversationFactory()
    EinsteinSession.objects.create(conversation=conversation)
    errors = []

    def try_lock(sql, params):
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql, params)
        except OperationalError as error:
            errors.append(error)
        finally:
            connections.close_all()

    with transaction.atomic():
        conversation_with_bot(conversation_id=conversation.pk, for_update=True, also=("einstein",))
        for sql, params in [
            ("SELECT 1 FROM sessions_app_conversation WHERE id = %s FOR UPDATE NOWAIT", [conversation.pk]),
            ("SELECT 1 FROM bots_bot WHERE id = %s FOR UPDATE NOWAIT", [conversation.bot_id]),
            ("SELECT 1 FROM einstein_einsteinsession WHERE conversation_id = %s FOR UPDATE NOWAIT", [conversation.pk]),
        ]:
            thread = threading.Thread(target=try_lock, args=(sql, params))
            thread.start()
            thread.join(10)

    assert len(errors) == 1 and "could not obtain lock" in str(errors[0])


def test_the_history_is_the_orm_querys_last_messages_oldest_first():
    from sessions_app.models import Message

    conversation, other = ConversationFactory(), ConversationFactory()
    for index in range(25):
        MessageFactory(conversation=conversation, type="user" if index % 2 else "bot", text=f"m{index}")
    MessageFactory(conversation=other, text="elsewhere")

    recent = Message.all_objects.filter(conversation=conversation).order_by("-id")[:20]
    expected = tuple(reversed([(m.type, m.text) for m in recent]))
    assert message_history(conversation_id=conversation.pk, take=20) == expected
    assert expected[0] == ("user", "m5") and expected[-1] == ("bot", "m24")
    assert message_history(conversation_id=ConversationFactory().pk, take=20) == ()


@pytest.mark.parametrize(
    "meta",
    [
        {"count": 12345678901234567890123, "small": 18446744073709551615, "negative": -(10**20)},
        {"text": "naïve ☃ \U0001f600 \u2028", "ratio": 0.1, "tiny": 5e-324, "list": [True, False, None, [], {}]},
        {"nested": {"a": [{"b": [1, 2.5, "3"]}]}, "digits in text": "order 12345678901234567890"},
        [],
        "just a string",
        7,
    ],
)
def test_json_columns_are_what_the_orm_parses(meta):
    """A page's JSON columns are what the ORM parses, exact integers of any length included."""
    conversation = ConversationFactory()
    MessageFactory(conversation=conversation, meta=meta)

    [row] = message_row_page(conversation_id=conversation.pk, take=1, order="asc")
    [expected] = message_rows(conversation_id=conversation.pk).values_list("meta", flat=True)

    assert row["meta"] == expected == meta
    assert _leaf_types(row["meta"]) == _leaf_types(meta)  # 1 == 1.0 == True: equality alone misses a float
    # For a response that writes it as it is: the database's JSON text, which parses to the same value.
    [as_text] = message_row_page(conversation_id=conversation.pk, take=1, order="asc", meta_as_text=True)
    assert isinstance(as_text["meta"], JsonText)
    assert json.loads(as_text["meta"]) == meta and _leaf_types(json.loads(as_text["meta"])) == _leaf_types(meta)
    assert {key: value for key, value in as_text.items() if key != "meta"} == {
        key: value for key, value in row.items() if key != "meta"
    }


def _leaf_types(value, path=()) -> dict:
    """{path: type} of every leaf of a JSON value."""
    if isinstance(value, dict | list):
        items = value.items() if isinstance(value, dict) else enumerate(value)
        return {leaf: kind for key, item in items for leaf, kind in _leaf_types(item, (*path, key)).items()}
    return {path: type(value)}
