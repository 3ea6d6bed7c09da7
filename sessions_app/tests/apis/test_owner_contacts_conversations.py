import pytest

from sessions_app.models import Contact, Conversation, Message
from sessions_app.tests.apis.helpers import assert_error, open_session, post
from sessions_app.tests.factories import ContactFactory, ConversationFactory

pytestmark = pytest.mark.django_db


def test_contact_crud(owner_client, other_client):
    response = post(
        owner_client,
        "/api/v1/contact/create",
        {"name": "Ann", "email": "Ann@Example.com", "phone": "+1 415 555 2671", "meta": {"plan": "pro"}},
    )
    assert response.status_code == 200, response.content
    contact_id = response.json()["id"]
    fetched = owner_client.get(f"/api/v1/contact/{contact_id}/fetch").json()
    assert fetched["email"] == "ann@example.com" and fetched["phone"] == "+14155552671"
    assert fetched["fingerprint"] and fetched["meta"] == {"plan": "pro"} and "verifiedAt" not in fetched
    post(owner_client, f"/api/v1/contact/{contact_id}/update", {"nick": "annie"})
    assert Contact.objects.get(pk=contact_id).nick == "annie"
    assert [c["id"] for c in owner_client.get("/api/v1/contact/list").json()["items"]] == [contact_id]
    assert_error(other_client.get(f"/api/v1/contact/{contact_id}/fetch"), 404, "NOT_FOUND")
    assert_error(post(other_client, f"/api/v1/contact/{contact_id}/delete"), 404, "NOT_FOUND")
    assert_error(post(owner_client, "/api/v1/contact/create", {"email": "ANN@example.com"}), 409, "CONFLICT")
    post(owner_client, f"/api/v1/contact/{contact_id}/delete")
    assert not Contact.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"), [({"email": "nope"}, "email"), ({"phone": "123"}, "phone"), ({"meta": {"_x": 1}}, "meta")]
)
def test_contact_create_invalid_is_400(owner_client, body, field):
    assert_error(post(owner_client, "/api/v1/contact/create", body), 400, "BAD_REQUEST", field)
    assert not Contact.objects.exists()


def test_contact_ensure_upserts_by_fingerprint(owner_client, other_client):
    first = post(owner_client, "/api/v1/contact/ensure", {"fingerprint": "user-42", "name": "Bob"}).json()["id"]
    again = post(owner_client, "/api/v1/contact/ensure", {"fingerprint": "user-42", "name": "Robert"}).json()["id"]
    assert first == again and Contact.objects.get(pk=first).name == "Robert"
    other = post(other_client, "/api/v1/contact/ensure", {"fingerprint": "user-42"}).json()["id"]
    assert other != first
    assert_error(post(owner_client, "/api/v1/contact/ensure", {"name": "x"}), 400, "BAD_REQUEST", "fingerprint")


def test_contact_conversation_list_accumulates_sessions(anon_client, owner_client, other_client, public_bot):
    open_session(anon_client, public_bot, {"contact": {"email": "c@example.com"}})
    open_session(anon_client, public_bot, {"contact": {"email": "C@example.com"}})
    contact = Contact.objects.get()
    listed = owner_client.get(f"/api/v1/contact/{contact.pk}/conversation/list").json()
    assert len(listed["items"]) == 2 and all(c["contactId"] == str(contact.pk) for c in listed["items"])
    assert all(c["botId"] == str(public_bot.pk) for c in listed["items"])
    assert_error(other_client.get(f"/api/v1/contact/{contact.pk}/conversation/list"), 404, "NOT_FOUND")


def test_conversation_crud(owner_client, other_client, bot, owner):
    contact = ContactFactory(owner=owner)
    response = post(
        owner_client,
        "/api/v1/conversation/create",
        {
            "botId": str(bot.pk),
            "contactId": str(contact.pk),
            "name": "Support",
            "meta": {"ticket": "T-1"},
            "messages": [{"type": "context", "text": "VIP customer"}, {"type": "user", "text": "Hi"}],
        },
    )
    assert response.status_code == 200, response.content
    cid = response.json()["id"]
    fetched = owner_client.get(f"/api/v1/conversation/{cid}/fetch").json()
    assert fetched["botId"] == str(bot.pk) and fetched["contactId"] == str(contact.pk)
    assert fetched["name"] == "Support" and fetched["meta"] == {"ticket": "T-1"}
    assert [(m.type, m.text) for m in Message.objects.filter(conversation_id=cid).order_by("id")] == [
        ("context", "VIP customer"),
        ("user", "Hi"),
    ]
    post(owner_client, f"/api/v1/conversation/{cid}/update", {"description": "Billing", "meta": {"ticket": "T-2"}})
    conversation = Conversation.objects.get(pk=cid)
    assert conversation.description == "Billing" and conversation.meta == {"ticket": "T-2"}
    listed = owner_client.get("/api/v1/conversation/list", {"meta.ticket": "T-2"}).json()
    assert [c["id"] for c in listed["items"]] == [cid]
    assert owner_client.get("/api/v1/conversation/list", {"meta.ticket": "T-1"}).json() == {"items": []}
    assert_error(other_client.get(f"/api/v1/conversation/{cid}/fetch"), 404, "NOT_FOUND")
    assert_error(post(other_client, f"/api/v1/conversation/{cid}/update", {"name": "x"}), 404, "NOT_FOUND")
    assert_error(other_client.get(f"/api/v1/conversation/{cid}/message/list"), 404, "NOT_FOUND")
    post(owner_client, f"/api/v1/conversation/{cid}/delete")
    assert not Conversation.objects.filter(pk=cid).exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"messages": [{"type": "robot", "text": "x"}]}, "messages[0].type"),
        ({"messages": [{"type": "user", "text": ""}]}, "messages[0].text"),
        ({"botId": "00000000-0000-0000-0000-000000000000"}, "botId"),
        ({"contactId": "00000000-0000-0000-0000-000000000000"}, "contactId"),
        ({"meta": {"_x": 1}}, "meta"),
    ],
)
def test_conversation_create_invalid_is_400_and_creates_nothing(owner_client, body, field):
    assert_error(post(owner_client, "/api/v1/conversation/create", body), 400, "BAD_REQUEST", field)
    assert not Conversation.objects.exists() and not Message.objects.exists()


def test_conversation_cannot_use_another_owners_bot(owner_client, other_owner):
    from bots.tests.factories import BotFactory

    foreign = BotFactory(owner=other_owner)
    assert_error(post(owner_client, "/api/v1/conversation/create", {"botId": str(foreign.pk)}), 400, "BAD_REQUEST")


def test_conversation_list_is_the_owners_only(owner_client, other_client, bot):
    mine = ConversationFactory(bot=bot)
    assert [c["id"] for c in owner_client.get("/api/v1/conversation/list").json()["items"]] == [str(mine.pk)]
    assert other_client.get("/api/v1/conversation/list").json() == {"items": []}


def test_completing_a_conversation_without_a_bot_is_409(owner_client):
    cid = post(owner_client, "/api/v1/conversation/create", {"name": "notes"}).json()["id"]
    assert_error(post(owner_client, f"/api/v1/conversation/{cid}/complete", {"text": "hi"}), 409, "CONFLICT", "bot")
    assert_error(post(owner_client, f"/api/v1/conversation/{cid}/send", {"text": "hi"}), 409, "CONFLICT", "bot")
    assert not Message.objects.filter(conversation_id=cid).exists()


@pytest.mark.parametrize("route", ["conversation/list", "contact/list", "contact/{contact}/conversation/list"])
def test_owner_list_query_counts_are_constant(owner_client, owner, bot, route, django_assert_max_num_queries):
    contact = ContactFactory(owner=owner)
    ContactFactory.create_batch(99, owner=owner)
    ConversationFactory.create_batch(100, bot=bot, contact=contact)
    owner_client.get("/api/v1/bot/list")  # records the API key's use, which is written once a minute
    url = f"/api/v1/{route.format(contact=contact.pk)}"
    with django_assert_max_num_queries(3):
        body = owner_client.get(url).json()
    assert len(body["items"]) == 100
