import csv
import io
import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from sessions_app.models import Conversation
from sessions_app.protocols.directline.models import DirectLineConversation
from sessions_app.protocols.einstein.models import EinsteinSession
from sessions_app.tests.factories import ContactFactory, ConversationFactory, MessageFactory

CHANGELIST = "admin:sessions_app_conversation_changelist"


def listed(response):
    return {obj.pk for obj in response.context["cl"].result_list}


def export(client, action, pks):
    response = client.post(
        reverse(CHANGELIST), {"action": action, "_selected_action": [str(pk) for pk in pks], "index": "0"}
    )
    assert response.status_code == 200
    return b"".join(response.streaming_content).decode()


def test_search_finds_message_text_and_contact_email(world, owner, login_client):
    client = login_client(owner)
    assert listed(client.get(reverse(CHANGELIST), {"q": "opening HOURS"})) == {world.mine.conversation.pk}
    assert listed(client.get(reverse(CHANGELIST), {"q": "alpha@example"})) == {world.mine.conversation.pk}
    # Another owner's words and contacts are never found.
    assert listed(client.get(reverse(CHANGELIST), {"q": "Beta asks"})) == set()
    assert listed(client.get(reverse(CHANGELIST), {"q": "beta@example.com"})) == set()


def test_search_matching_many_messages_lists_the_conversation_once(world, owner, login_client):
    for _ in range(3):
        MessageFactory(conversation=world.mine.conversation, text="opening hours again")
    response = login_client(owner).get(reverse(CHANGELIST), {"q": "opening hours"})
    assert [c.pk for c in response.context["cl"].result_list] == [world.mine.conversation.pk]


def test_reviewer_search_spans_every_owner(world, reviewer, login_client):
    found = listed(login_client(reviewer).get(reverse(CHANGELIST), {"q": "opening hours"}))
    assert found == {world.mine.conversation.pk, world.theirs.conversation.pk}


def test_filters_by_ended_end_reason_origin_date_bot_and_contact(world, owner, bot, login_client):
    now = timezone.now()
    ended = ConversationFactory(bot=bot, ended_at=now, end_reason="UserRequest", origin="einstein")
    old = ConversationFactory(bot=bot, created_at=now - timedelta(days=40), origin="admin")
    client = login_client(owner)
    mine = {world.mine.conversation.pk, ended.pk, old.pk}
    assert listed(client.get(reverse(CHANGELIST))) == mine
    assert listed(client.get(reverse(CHANGELIST), {"ended": "yes"})) == {ended.pk}
    assert listed(client.get(reverse(CHANGELIST), {"ended": "no"})) == mine - {ended.pk}
    assert listed(client.get(reverse(CHANGELIST), {"end_reason__exact": "UserRequest"})) == {ended.pk}
    assert listed(client.get(reverse(CHANGELIST), {"origin__exact": "admin"})) == {old.pk}
    since = str(now - timedelta(days=7))  # aware, as the date filter itself sends it
    assert old.pk not in listed(client.get(reverse(CHANGELIST), {"created_at__gte": since}))
    assert listed(client.get(reverse(CHANGELIST), {"bot__id__exact": bot.pk})) == {ended.pk, old.pk}
    contact_filter = {"contact__id__exact": world.mine.contact.pk}
    assert listed(client.get(reverse(CHANGELIST), contact_filter)) == {world.mine.conversation.pk}


def test_csv_export_of_selected_transcripts_skips_other_owners(world, owner, login_client):
    content = export(
        login_client(owner), "export_csv", [world.mine.conversation.pk, world.theirs.conversation.pk]
    )
    rows = list(csv.DictReader(io.StringIO(content)))
    assert [r["text"] for r in rows] == ["Alpha asks about opening hours", "Alpha answers"]
    assert {r["conversation_id"] for r in rows} == {str(world.mine.conversation.pk)}
    assert rows[0]["type"] == "user" and rows[0]["contact_email"] == "alpha@example.com"
    assert json.loads(rows[1]["intents"])[0]["label"] == "Alpha_intent"
    assert json.loads(rows[0]["entities"])[0]["value"] == "2026-11-21"


def test_json_export_of_selected_transcripts(world, reviewer, login_client):
    content = export(
        login_client(reviewer), "export_json", [world.mine.conversation.pk, world.theirs.conversation.pk]
    )
    data = json.loads(content)
    assert {c["id"] for c in data} == {str(world.mine.conversation.pk), str(world.theirs.conversation.pk)}
    alpha = next(c for c in data if c["id"] == str(world.mine.conversation.pk))
    assert alpha["bot"]["name"] == "Alpha bot"
    assert alpha["contact"]["email"] == "alpha@example.com"
    assert alpha["variables"] == {"city": "Alpha"}
    assert [m["text"] for m in alpha["messages"]] == ["Alpha asks about opening hours", "Alpha answers"]
    assert alpha["messages"][1]["intents"][0]["confidence"] == 0.93


def test_json_export_of_nothing_is_an_empty_list(owner, bot, login_client):
    empty = ConversationFactory(bot=bot)
    assert json.loads(export(login_client(owner), "export_json", [empty.pk])) == []


def test_owner_export_of_another_owners_conversation_exports_nothing(world, owner, login_client):
    client = login_client(owner)
    assert json.loads(export(client, "export_json", [world.theirs.conversation.pk])) == []
    assert export(client, "export_csv", [world.theirs.conversation.pk]).strip().count("\n") == 0


def test_transcript_reads_like_a_chat(world, owner, login_client):
    response = login_client(owner).get(
        reverse("admin:sessions_app_conversation_transcript", args=[world.mine.conversation.pk])
    )
    content = response.content.decode()
    assert 'class="bp-turn user"' in content and 'class="bp-turn bot"' in content
    assert content.index("Alpha asks about opening hours") < content.index("Alpha answers")
    assert "Alpha_intent (0.93)" in content
    assert "DATE=2026-11-21" in content
    assert "alpha@example.com" in content
    assert "city" in content and "Alpha" in content
    assert "ChatBotKit v1" in content
    assert "active" in content  # its session's status
    assert "Edit details" in content


def test_transcript_is_paginated(owner, bot, login_client):
    conversation = ConversationFactory(bot=bot)
    for n in range(120):
        MessageFactory(conversation=conversation, text=f"line {n:03d}")
    client = login_client(owner)
    url = reverse("admin:sessions_app_conversation_transcript", args=[conversation.pk])
    first = client.get(url).content.decode()
    assert "line 000" in first and "line 049" in first and "line 050" not in first
    assert "page 1 of 3" in first
    last = client.get(url, {"page": 3}).content.decode()
    assert "line 100" in last and "line 119" in last and "line 099" not in last


def test_contact_page_shows_its_conversation_history(world, owner, bot, login_client):
    contact = world.mine.contact
    later = ConversationFactory(bot=bot, contact=contact, name="Second visit")
    ConversationFactory(bot=bot, contact=ContactFactory(owner=owner), name="Someone else")
    content = login_client(owner).get(
        reverse("admin:sessions_app_contact_change", args=[contact.pk])
    ).content.decode()
    assert "Alpha conversation" in content and "Second visit" in content
    assert "Someone else" not in content
    assert reverse("admin:sessions_app_conversation_transcript", args=[later.pk]) in content


def test_owner_edits_a_conversations_name_but_not_its_record(world, owner, login_client):
    conversation = world.mine.conversation
    response = login_client(owner).post(
        reverse("admin:sessions_app_conversation_change", args=[conversation.pk]),
        {"name": "Renamed", "description": "", "meta": "{}", "end_reason": "Error", "origin": "admin"},
    )
    assert response.status_code == 302
    conversation.refresh_from_db()
    assert conversation.name == "Renamed"
    assert conversation.end_reason == "" and conversation.origin == "chatbotkit"


@pytest.mark.parametrize("role", ["owner", "reviewer"])
def test_nobody_rewrites_a_message(world, role, request, login_client):
    user = request.getfixturevalue(role)
    message = world.mine.user_message
    response = login_client(user).post(
        reverse("admin:sessions_app_message_change", args=[message.pk]), {"text": "rewritten", "type": "user"}
    )
    assert response.status_code == 403
    message.refresh_from_db()
    assert message.text == "Alpha asks about opening hours"


def test_conversations_can_not_be_added_by_hand(owner, login_client):
    assert login_client(owner).get(reverse("admin:sessions_app_conversation_add")).status_code == 403
    assert Conversation.objects.count() == 0


def test_contact_filter_lists_recent_contacts_and_the_selected_one(owner, bot, login_client, monkeypatch):
    from sessions_app.admin.sessions import RecentContactFilter
    from sessions_app.models import Contact

    monkeypatch.setattr(RecentContactFilter, "limit", 2)
    now = timezone.now()
    contacts = {}
    for age, name in enumerate(("Newest", "Middle", "Oldest")):
        contacts[name] = ContactFactory(owner=owner, name=name)
        Contact.objects.filter(pk=contacts[name].pk).update(created_at=now - timedelta(days=age))
    ContactFactory(owner=ContactFactory().owner, name="Stranger")
    ConversationFactory(bot=bot, contact=contacts["Oldest"])
    client = login_client(owner)

    def choices(response):
        spec = next(f for f in response.context["cl"].filter_specs if isinstance(f, RecentContactFilter))
        return [label for _, label in spec.lookup_choices]

    assert choices(client.get(reverse(CHANGELIST))) == ["Newest", "Middle"]
    response = client.get(reverse(CHANGELIST), {"contact__id__exact": contacts["Oldest"].pk})
    assert choices(response) == ["Newest", "Middle", "Oldest"]
    assert len(listed(response)) == 1


def test_the_change_form_shows_the_einstein_state_and_its_edits_leave_it_alone(world, owner, login_client):
    conversation = world.mine.conversation
    state = EinsteinSession.objects.create(
        conversation=conversation, external_session_key="ext-key-17", last_sequence_id=41, last_response={"x": 1}
    )
    url = reverse("admin:sessions_app_conversation_change", args=[conversation.pk])
    client = login_client(owner)
    page = client.get(url)
    assert page.status_code == 200
    content = page.content.decode()
    assert "External session key" in content and "ext-key-17" in content
    assert "Last sequence id" in content and "41" in content
    response = client.post(url, {"name": "Renamed", "description": "", "meta": '{"ticket": "T-1"}'})
    assert response.status_code == 302
    conversation.refresh_from_db()
    assert conversation.meta == {"ticket": "T-1"}
    fresh = EinsteinSession.objects.get(pk=state.pk)
    assert (fresh.external_session_key, fresh.last_sequence_id, fresh.last_response) == ("ext-key-17", 41, {"x": 1})
    # Another protocol's conversation has no such state: the fields are empty, the page works.
    other = ConversationFactory(owner=owner, bot=conversation.bot)
    assert client.get(reverse("admin:sessions_app_conversation_change", args=[other.pk])).status_code == 200


def test_the_change_form_shows_the_direct_line_state_and_its_edits_leave_it_alone(world, owner, login_client):
    conversation = world.mine.conversation
    DirectLineConversation.objects.create(
        conversation=conversation, user_id="u-7", user_name="Ann", trusted_origins=["https://shop.example"]
    )
    url = reverse("admin:sessions_app_conversation_change", args=[conversation.pk])
    client = login_client(owner)
    content = client.get(url).content.decode()
    assert "Direct Line user" in content and "u-7 (Ann)" in content
    assert "Direct Line trusted origins" in content and "https://shop.example" in content
    # The form's meta replaces the conversation's meta whole: the Direct Line state is not there.
    response = client.post(url, {"name": "Renamed", "description": "", "meta": "{}"})
    assert response.status_code == 302
    fresh = DirectLineConversation.objects.get(pk=conversation.pk)
    assert (fresh.user_id, fresh.user_name, fresh.trusted_origins) == ("u-7", "Ann", ["https://shop.example"])
