from django.urls import reverse

from bots.tests.factories import BotFactory
from sessions_app.access import credentials
from sessions_app.models import BotSession, Conversation, Message
from sessions_app.services.sessions import bot_session_authenticate
from sessions_app.tests.factories import BotSessionFactory, ConversationFactory


def start(client, bot):
    return client.post(reverse("admin:bots_bot_try_start", args=[bot.pk]))


def test_try_it_opens_an_admin_conversation_and_exchanges_messages(owner, bot, login_client):
    bot.welcome_messages = ["Hello from the helpdesk."]
    bot.save()
    client = login_client(owner)
    page = client.get(reverse("admin:bots_bot_try", args=[bot.pk]))
    assert page.status_code == 200 and 'id="try-panel"' in page.content.decode()

    opened = start(client, bot).json()
    assert opened["messages"] == [{"type": "text", "text": "Hello from the helpdesk.", "choices": []}]
    conversation = Conversation.objects.get(pk=opened["conversation"])
    assert conversation.origin == "admin" and conversation.bot == bot and conversation.owner == owner

    reply = client.post(
        reverse("admin:bots_bot_try_send", args=[bot.pk]), {"conversation": opened["conversation"], "text": "hi there"}
    )
    assert reply.status_code == 200
    assert reply.json()["messages"]
    texts = list(conversation.messages.order_by("id").values_list("type", "text"))
    assert texts[:2] == [("bot", "Hello from the helpdesk."), ("user", "hi there")]
    assert texts[2][0] == "bot" and texts[2][1] == reply.json()["messages"][0]["text"]


def test_try_it_rejects_empty_text_and_foreign_conversations(owner, other_owner, bot, login_client):
    client = login_client(owner)
    conversation = start(client, bot).json()["conversation"]
    send = reverse("admin:bots_bot_try_send", args=[bot.pk])
    empty = client.post(send, {"conversation": conversation, "text": "   "})
    assert empty.status_code == 400 and "text" in empty.json()["fields"]
    theirs = ConversationFactory(bot=BotFactory(owner=other_owner), origin="admin")
    assert client.post(send, {"conversation": theirs.pk, "text": "hi"}).status_code == 404
    assert client.post(send, {"conversation": "not-a-uuid", "text": "hi"}).status_code == 404
    assert not Message.objects.filter(conversation=theirs).exists()


def test_try_it_is_the_owners_only(owner, other_owner, reviewer, bot, login_client):
    for user in (other_owner, reviewer):
        client = login_client(user)
        assert client.get(reverse("admin:bots_bot_try", args=[bot.pk])).status_code == 404
        assert start(client, bot).status_code == 404
    assert not Conversation.objects.exists()


def test_try_it_needs_a_post_to_open_a_session(owner, bot, login_client):
    assert login_client(owner).get(reverse("admin:bots_bot_try_start", args=[bot.pk])).status_code == 405


def create_session(client, bot, **extra):
    return client.post(
        reverse("admin:bots_bot_changelist"), {"action": "create_session", "_selected_action": [bot.pk], **extra}
    )


def test_create_session_action_asks_for_a_duration_then_shows_the_token_once(owner, bot, login_client):
    client = login_client(owner)
    form = create_session(client, bot)
    assert form.status_code == 200 and 'id="session-create-form"' in form.content.decode()
    assert not BotSession.objects.exists()

    created = create_session(client, bot, apply="1", duration_seconds="7200")
    assert created.status_code == 200
    token = created.context["token"]
    session = BotSession.objects.get()
    assert session.duration_seconds == 7200 and session.token_digest == credentials.digest(token)
    assert session.conversation.origin == "admin" and session.created_by == owner
    assert bot_session_authenticate(token=token).pk == session.pk
    for page in [
        reverse("admin:sessions_app_botsession_changelist"),
        reverse("admin:sessions_app_botsession_change", args=[session.pk]),
        reverse("admin:sessions_app_conversation_transcript", args=[session.conversation_id]),
    ]:
        assert token not in client.get(page).content.decode()


def test_create_session_rejects_a_duration_out_of_bounds(owner, bot, login_client):
    response = create_session(login_client(owner), bot, apply="1", duration_seconds="60")
    assert response.status_code == 200 and response.context["form"].errors
    assert not BotSession.objects.exists()


def test_no_session_for_reviewers_nor_other_owners_bots(owner, other_owner, reviewer, login_client):
    theirs = BotFactory(owner=other_owner)
    response = create_session(login_client(owner), theirs, apply="1", duration_seconds="3600")
    assert response.status_code == 302  # nothing of the owner's selected
    response = create_session(login_client(reviewer), theirs, apply="1", duration_seconds="3600")
    assert b"session-token" not in response.content
    assert not BotSession.objects.exists()


def test_owner_revokes_its_sessions(owner, other_owner, bot, login_client):
    mine, token = BotSessionFactory.with_token(conversation=ConversationFactory(bot=bot))
    theirs = BotSessionFactory(conversation=ConversationFactory(bot=BotFactory(owner=other_owner)))
    response = login_client(owner).post(
        reverse("admin:sessions_app_botsession_changelist"),
        {"action": "revoke_selected", "_selected_action": [mine.pk, theirs.pk]},
    )
    assert response.status_code == 302
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.status() == "revoked" and theirs.status() == "active"
    listed = login_client(owner).get(reverse("admin:sessions_app_botsession_changelist"), {"status": "revoked"})
    assert [s.pk for s in listed.context["cl"].result_list] == [mine.pk]
