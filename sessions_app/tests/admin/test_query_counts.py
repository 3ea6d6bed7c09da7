"""Change lists make a fixed number of queries however many rows they show."""

import pytest
from django.urls import reverse

from bots.tests.factories import BotFactory, DatasetRecordFactory, IntentFactory
from sessions_app.services.owners import api_key_create
from sessions_app.tests.factories import BotSessionFactory, ContactFactory, ConversationFactory, MessageFactory

ROWS = 60


@pytest.fixture
def many_rows(owner):
    for n in range(ROWS):
        contact = ContactFactory(owner=owner, email=f"c{n}@example.com")
        bot = BotFactory(owner=owner)
        conversation = ConversationFactory(bot=bot, contact=contact)
        MessageFactory(conversation=conversation)
        BotSessionFactory(conversation=conversation)
        IntentFactory(bot=bot)
        DatasetRecordFactory(dataset__owner=owner)
        api_key_create(owner=owner)


@pytest.mark.parametrize(
    ("model", "params"),
    [
        ("sessions_app_conversation", {}),
        ("sessions_app_conversation", {"q": "message"}),
        ("sessions_app_conversation", {"ended": "no", "origin__exact": "chatbotkit"}),
        ("sessions_app_message", {}),
        ("sessions_app_botsession", {}),
        ("sessions_app_botsession", {"status": "active"}),
        ("sessions_app_contact", {}),
        ("sessions_app_apikey", {}),
        ("bots_bot", {}),
        ("bots_intent", {}),
        ("bots_datasetrecord", {}),
    ],
)
@pytest.mark.parametrize("role", ["owner", "reviewer", "superuser"])
def test_change_lists_make_no_per_row_queries(
    model, params, role, many_rows, request, login_client, django_assert_max_num_queries
):
    user = request.getfixturevalue(role)
    client = login_client(user)
    url = reverse(f"admin:{model}_changelist")
    client.get(url, params)  # warm the session and content types
    with django_assert_max_num_queries(10):
        response = client.get(url, params)
    if response.status_code == 200:
        assert len(response.context["cl"].result_list) >= (ROWS if role == "owner" else 0)


def test_transcript_page_makes_a_fixed_number_of_queries(owner, bot, login_client, django_assert_max_num_queries):
    conversation = ConversationFactory(bot=bot, contact=ContactFactory(owner=owner))
    for n in range(200):
        MessageFactory(conversation=conversation, meta={"intents": [{"label": f"i{n}", "confidence": 0.9}]})
    BotSessionFactory(conversation=conversation)
    client = login_client(owner)
    url = reverse("admin:sessions_app_conversation_transcript", args=[conversation.pk])
    client.get(url)
    with django_assert_max_num_queries(10):
        response = client.get(url)
    assert len(response.context["turns"]) == 50


def test_dashboard_makes_a_fixed_number_of_queries(owner, many_rows, login_client, django_assert_max_num_queries):
    client = login_client(owner)
    client.get(reverse("admin:index"))
    with django_assert_max_num_queries(10):
        client.get(reverse("admin:index"))


def test_big_lists_count_at_most_a_capped_number_of_rows(owner, bot, login_client, monkeypatch):
    from sessions_app.access.scoping import CappedCountPaginator
    from sessions_app.admin.sessions import MessageAdmin

    monkeypatch.setattr(CappedCountPaginator, "cap", 5)
    monkeypatch.setattr(MessageAdmin, "list_per_page", 3)
    conversation = ConversationFactory(bot=bot)
    for _ in range(12):
        MessageFactory(conversation=conversation)
    response = login_client(owner).get(reverse("admin:sessions_app_message_changelist"))
    changelist = response.context["cl"]
    assert changelist.result_count == 6 and changelist.paginator.num_pages == 2
    assert len(changelist.result_list) == 3
