"""Deleting a bot, a contact or an owner: gone for every read at once, rows removed in batches after."""

from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from botportal.errors import NotFound
from bots.models import Bot, Dataset, DatasetRecord, Intent, Utterance
from bots.services.resources import bot_mark_deleted
from bots.tests.factories import BotFactory, IntentFactory, UtteranceFactory
from sessions_app import tasks
from sessions_app.models import ApiKey, BotSession, Contact, Conversation, Message, OwnerProfile
from sessions_app.protocols.einstein.runtime import runtime_bot_get, runtime_session_get
from sessions_app.selectors.conversations import conversation_with_bot
from sessions_app.services import deletions, lifecycle
from sessions_app.services.lifecycle import batches, policies
from sessions_app.services.owners import owner_profile_ensure
from sessions_app.tests.apis.helpers import assert_error, post, token_client
from sessions_app.tests.factories import BotSessionFactory, ContactFactory, ConversationFactory, MessageFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def small_batches(settings):
    """One batch is 2 rows: a delete of more than that goes to the background."""
    settings.BOTPORTAL = {**settings.BOTPORTAL, "PRUNE_BATCH_SIZE": 2}


def conversations(bot, count, contact=None):
    made = []
    for _ in range(count):
        conversation = ConversationFactory(bot=bot, contact=contact)
        MessageFactory(conversation=conversation)
        MessageFactory(conversation=conversation)
        made.append(conversation)
    return made


def rows_left(**filters):
    return Conversation.all_objects.filter(**filters).count()


# --- bots ---------------------------------------------------------------------------------------


def test_deleted_bot_is_gone_for_every_read_before_its_rows_are(
    owner, owner_client, small_batches, django_capture_on_commit_callbacks, login_client
):
    bot = BotFactory(owner=owner, visibility="public")
    IntentFactory(bot=bot)
    made = conversations(bot, 5)
    session, token = BotSessionFactory.with_token(conversation=made[0])
    org_id = owner_profile_ensure(owner=owner).org_id

    with mock.patch.object(tasks.purge_deleted, "delay") as queued, django_capture_on_commit_callbacks(execute=True):
        response = post(owner_client, f"/api/v1/bot/{bot.pk}/delete")

    assert response.status_code == 200 and response.json() == {"id": str(bot.pk)}
    queued.assert_called_once_with()
    # Every row is still there, for the background purge...
    assert rows_left(bot=bot) == 5 and Message.all_objects.filter(conversation__bot=bot).count() == 10
    # ...and no read sees any of it.
    assert_error(owner_client.get(f"/api/v1/bot/{bot.pk}/fetch"), 404, "NOT_FOUND")
    assert owner_client.get("/api/v1/bot/list").json()["items"] == []
    assert owner_client.get("/api/v1/conversation/list").json()["items"] == []
    assert_error(owner_client.get(f"/api/v1/conversation/{made[1].pk}/fetch"), 404, "NOT_FOUND")
    assert_error(token_client(token).get(f"/api/v1/conversation/{made[0].pk}/message/list"), 401, "NOT_AUTHENTICATED")
    assert conversation_with_bot(conversation_id=made[0].pk) is None
    with pytest.raises(NotFound):
        runtime_bot_get(owner=owner, org_id=org_id, bot_id=str(bot.pk))
    with pytest.raises(NotFound):
        runtime_session_get(owner=owner, org_id=org_id, session_id=str(made[1].pk))
    assert login_client(owner).get(f"/widget/{bot.pk}/").status_code == 404
    assert_error(post(owner_client, f"/api/v1/bot/{bot.pk}/session/create"), 404, "NOT_FOUND")
    assert not Message.objects.filter(conversation__bot=bot).exists()
    assert not BotSession.objects.filter(pk=session.pk).exists()
    admin = login_client(owner)
    assert str(bot.pk) not in admin.get(reverse("admin:bots_bot_changelist")).content.decode()
    assert str(made[1].pk) not in admin.get(reverse("admin:sessions_app_conversation_changelist")).content.decode()
    assert admin.get(reverse("admin:bots_bot_change", args=[bot.pk])).status_code == 404

    # The task (here run eagerly, as a worker would) removes everything in batches of two.
    result = tasks.purge_deleted.apply().get()
    assert result["counts"]["conversations_deleted"] == 5 and result["counts"]["messages_deleted"] == 10
    assert result["counts"]["bots_deleted"] == 1 and result["batches"] >= 3
    assert not Bot.all_objects.filter(pk=bot.pk).exists() and rows_left(bot=bot) == 0
    assert not Intent.objects.filter(bot_id=bot.pk).exists()
    assert not BotSession.all_objects.filter(pk=session.pk).exists()


def test_a_small_bot_is_deleted_in_the_request(owner, owner_client, django_capture_on_commit_callbacks):
    bot = BotFactory(owner=owner)
    UtteranceFactory(intent=IntentFactory(bot=bot))
    conversations(bot, 3)
    kept = conversations(BotFactory(owner=owner), 1)[0]

    with mock.patch.object(tasks.purge_deleted, "delay") as queued, django_capture_on_commit_callbacks(execute=True):
        assert post(owner_client, f"/api/v1/bot/{bot.pk}/delete").status_code == 200

    queued.assert_not_called()
    assert not Bot.all_objects.filter(pk=bot.pk).exists() and rows_left(bot_id=bot.pk) == 0
    assert not Utterance.objects.filter(intent__bot_id=bot.pk).exists()
    assert Conversation.objects.filter(pk=kept.pk).exists()


def test_a_lost_purge_is_finished_by_the_hourly_prune(owner, small_batches):
    bot = BotFactory(owner=owner)
    conversations(bot, 3)
    bot_mark_deleted(bot=bot)  # as if the worker died right after the delete answered

    result = tasks.prune_conversations.apply().get()

    assert result["purge_deleted"]["counts"]["bots_deleted"] == 1
    assert not Bot.all_objects.filter(pk=bot.pk).exists() and rows_left(bot_id=bot.pk) == 0


def test_deleting_twice_is_a_404_the_second_time(owner, owner_client):
    bot = BotFactory(owner=owner)
    assert post(owner_client, f"/api/v1/bot/{bot.pk}/delete").status_code == 200
    assert_error(post(owner_client, f"/api/v1/bot/{bot.pk}/delete"), 404, "NOT_FOUND")


def test_purge_deleted_command_and_dry_run(owner, small_batches, capsys):
    from django.core.management import call_command

    bot = BotFactory(owner=owner)
    conversations(bot, 3)
    bot_mark_deleted(bot=bot)
    call_command("purgedeleted", "--dry-run")
    assert "bots_deleted 1" in capsys.readouterr().out and rows_left(bot_id=bot.pk) == 3
    call_command("purgedeleted")
    assert "conversations_deleted 3" in capsys.readouterr().out and rows_left(bot_id=bot.pk) == 0


@pytest.mark.parametrize("bulk", [False, True])
def test_admin_deletes_bots_through_the_service(
    owner, login_client, small_batches, django_capture_on_commit_callbacks, bulk
):
    bots = [BotFactory(owner=owner) for _ in range(2)]
    for bot in bots:
        conversations(bot, 3)
    client = login_client(owner)
    if bulk:
        url = reverse("admin:bots_bot_changelist")
        form = {"action": "delete_selected", "_selected_action": [str(b.pk) for b in bots]}
        confirm = client.post(url, form)
        assert confirm.status_code == 200 and str(bots[0]) in confirm.content.decode()
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(url, {**form, "post": "yes"})
    else:
        confirm = client.get(reverse("admin:bots_bot_delete", args=[bots[0].pk]))
        assert confirm.status_code == 200
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(reverse("admin:bots_bot_delete", args=[bots[0].pk]), {"post": "yes"})
        bots = bots[:1]
    assert response.status_code == 302
    assert not Bot.objects.filter(pk__in=[b.pk for b in bots]).exists()
    lifecycle.deleted_purge()
    assert not Bot.all_objects.filter(pk__in=[b.pk for b in bots]).exists()
    assert rows_left(bot_id__in=[b.pk for b in bots]) == 0


# --- contacts -----------------------------------------------------------------------------------


def test_deleted_contact_is_gone_at_once_and_its_conversations_stay_the_owners(
    owner, owner_client, small_batches, django_capture_on_commit_callbacks
):
    contact = ContactFactory(owner=owner, email="ann@example.com")
    bot = BotFactory(owner=owner)
    made = conversations(bot, 4, contact=contact)

    with mock.patch.object(tasks.purge_deleted, "delay") as queued, django_capture_on_commit_callbacks(execute=True):
        assert post(owner_client, f"/api/v1/contact/{contact.pk}/delete").status_code == 200

    queued.assert_called_once_with()
    assert_error(owner_client.get(f"/api/v1/contact/{contact.pk}/fetch"), 404, "NOT_FOUND")
    assert owner_client.get("/api/v1/contact/list").json()["items"] == []
    # The owner may create the same contact again at once.
    again = post(owner_client, "/api/v1/contact/create", {"email": "ann@example.com"})
    assert again.status_code == 200, again.content

    tasks.purge_deleted.apply()
    assert not Contact.all_objects.filter(pk=contact.pk).exists()
    assert set(Conversation.objects.filter(contact__isnull=True).values_list("pk", flat=True)) == {c.pk for c in made}


def test_admin_deletes_a_contact_through_the_service(owner, login_client, django_capture_on_commit_callbacks):
    contact = ContactFactory(owner=owner)
    conversation = conversations(BotFactory(owner=owner), 1, contact=contact)[0]
    with django_capture_on_commit_callbacks(execute=True):
        response = login_client(owner).post(
            reverse("admin:sessions_app_contact_delete", args=[contact.pk]), {"post": "yes"}
        )
    assert response.status_code == 302
    assert not Contact.all_objects.filter(pk=contact.pk).exists()
    conversation.refresh_from_db()
    assert conversation.contact_id is None


# --- owners -------------------------------------------------------------------------------------


def test_admin_deletes_an_owner_and_everything_they_own(
    owner, other_owner, owner_client, superuser, login_client, small_batches, django_capture_on_commit_callbacks
):
    bot = BotFactory(owner=owner)
    contact = ContactFactory(owner=owner)
    conversations(bot, 3, contact=contact)
    ConversationFactory(bot=None, bot_version=None, owner=owner)
    dataset = Dataset.objects.create(owner=owner)
    DatasetRecord.objects.bulk_create([DatasetRecord(dataset=dataset, text=f"r{n}") for n in range(3)])
    theirs = conversations(BotFactory(owner=other_owner), 1)[0]
    admin = login_client(superuser)

    assert admin.get(reverse("admin:auth_user_delete", args=[owner.pk])).status_code == 200
    with mock.patch.object(tasks.purge_deleted, "delay") as queued, django_capture_on_commit_callbacks(execute=True):
        response = admin.post(reverse("admin:auth_user_delete", args=[owner.pk]), {"post": "yes"})

    assert response.status_code == 302
    queued.assert_called_once_with()
    listed = admin.get(reverse("admin:auth_user_changelist")).context["cl"].queryset
    assert owner.pk not in {user.pk for user in listed} and other_owner.pk in {user.pk for user in listed}
    assert_error(owner_client.get("/api/v1/bot/list"), 401, "NOT_AUTHENTICATED")
    assert not ApiKey.objects.filter(owner=owner, revoked_at__isnull=True).exists()
    assert not Conversation.objects.filter(owner=owner).exists() and not Contact.objects.filter(owner=owner).exists()
    assert not Bot.objects.filter(owner=owner).exists()

    tasks.purge_deleted.apply()
    assert not get_user_model().objects.filter(pk=owner.pk).exists()
    assert rows_left(owner_id=owner.pk) == 0 and not Contact.all_objects.filter(owner_id=owner.pk).exists()
    assert not Bot.all_objects.filter(owner_id=owner.pk).exists() and not DatasetRecord.objects.exists()
    assert not OwnerProfile.objects.filter(owner_id=owner.pk).exists()
    assert Conversation.objects.filter(pk=theirs.pk).exists()


def test_owner_delete_service_is_idempotent(owner):
    deletions.owner_delete(owner=owner)
    deletions.owner_delete(owner=owner)
    assert OwnerProfile.objects.get(owner=owner).deleted_at is not None


@pytest.mark.parametrize("size", [-1, lifecycle.MAX_BATCH_SIZE + 1])
def test_a_batch_size_past_the_parameter_limit_is_refused(size):
    with pytest.raises(ValueError, match="batch size"):
        lifecycle.deleted_purge(batch_size=size)
    with pytest.raises(ValueError, match="batch size"):
        lifecycle.conversations_prune(batch_size=size)


def test_purge_and_prune_never_run_side_by_side(owner):
    """They delete conversations in different orders: side by side they could deadlock on the same rows."""
    from contextlib import contextmanager

    asked = []

    @contextmanager
    def busy(*, name, **kwargs):
        asked.append(name)
        yield False  # another run holds it

    bot = BotFactory(owner=owner)
    bot_mark_deleted(bot=bot)
    with mock.patch.object(batches, "lifecycle_lock", busy):
        assert not lifecycle.deleted_purge().ran
        assert not lifecycle.conversations_prune().ran
    assert asked == [lifecycle.PRUNE_CONVERSATIONS, lifecycle.PRUNE_CONVERSATIONS]
    assert Bot.all_objects.filter(pk=bot.pk).exists()


def test_a_failing_inline_purge_still_answers_the_delete(owner, owner_client, django_capture_on_commit_callbacks):
    bot = BotFactory(owner=owner)
    with (
        mock.patch.object(policies, "_bot_rows_purge", side_effect=RuntimeError("deadlock detected")),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert post(owner_client, f"/api/v1/bot/{bot.pk}/delete").status_code == 200
    assert not Bot.objects.filter(pk=bot.pk).exists()
    lifecycle.deleted_purge()
    assert not Bot.all_objects.filter(pk=bot.pk).exists()
