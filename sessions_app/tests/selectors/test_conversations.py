"""The hand-written transcript page gives exactly the rows the ORM gives."""

import pytest

from sessions_app.selectors.conversations import message_row_page, message_rows
from sessions_app.tests.factories import ConversationFactory, MessageFactory

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
