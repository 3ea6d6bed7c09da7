"""The hand-written reads of a Direct Line credential (botportal.rows) keep exactly the rules of the ORM
queries they replace: a revoked secret, a deactivated owner's, a deleted bot's are refused; a token of a
deleted bot's conversation is too."""

import pytest
from django.utils import timezone

from bots.models import Bot
from sessions_app.access import credentials
from sessions_app.models import BotSession, Conversation
from sessions_app.protocols.directline.models import DirectLineSecret
from sessions_app.protocols.directline.selectors import directline_secret_by_digest
from sessions_app.protocols.directline.services import directline_secret_authenticate, directline_secret_create
from sessions_app.selectors.sessions import bot_session_by_digest
from sessions_app.tests.factories import BotSessionFactory
from tests.model_fields import field_values

pytestmark = pytest.mark.django_db


def _orm_secret_bot(secret: str):
    """The ORM query the selector replaced, with the checks made after it: the oracle."""
    row = (
        DirectLineSecret.objects.select_related("bot", "bot__owner")
        .filter(digest=credentials.digest(secret), revoked_at__isnull=True, bot__owner__is_active=True)
        .first()
    )
    if row is None or row.bot.deleted_at is not None:
        return None
    return row.bot


def test_the_secret_lookup_loads_the_secret_its_bot_and_owner_as_the_orm_does(dl_bot, dl_secret,
                                                                              django_assert_num_queries):
    with django_assert_num_queries(1):
        row = directline_secret_by_digest(digest=credentials.digest(dl_secret))
        owner = row.bot.owner
    expected = DirectLineSecret.objects.select_related("bot", "bot__owner").get(digest=credentials.digest(dl_secret))
    assert type(row) is DirectLineSecret and row._state.adding is False
    assert field_values(row) == field_values(expected)
    assert type(row.bot) is Bot and field_values(row.bot) == field_values(expected.bot)
    assert field_values(owner) == field_values(expected.bot.owner) and owner.pk == dl_bot.owner_id


@pytest.mark.parametrize("case", ["live", "revoked", "inactive-owner", "deleted-bot", "unknown", "other-bots"])
def test_a_secret_is_refused_exactly_when_the_orm_query_refused_it(case, dl_bot, dl_secret, other_owner, directline):
    secret = dl_secret
    row = DirectLineSecret.objects.get(digest=credentials.digest(secret))
    if case == "revoked":
        DirectLineSecret.objects.filter(pk=row.pk).update(revoked_at=timezone.now())
    elif case == "inactive-owner":
        type(dl_bot.owner).objects.filter(pk=dl_bot.owner_id).update(is_active=False)
    elif case == "deleted-bot":
        Bot.all_objects.filter(pk=dl_bot.pk).update(deleted_at=timezone.now())
    elif case == "unknown":
        secret = dl_secret[:-4] + ("AAAA" if not dl_secret.endswith("AAAA") else "BBBB")
    elif case == "other-bots":  # another owner's live secret next to this one changes nothing
        _, secret = directline_secret_create(bot=Bot.objects.create(owner=other_owner, name="Theirs"))

    expected = _orm_secret_bot(secret)
    found = directline_secret_authenticate(secret=secret)

    assert (found is None) == (case in ("revoked", "inactive-owner", "deleted-bot", "unknown"))
    assert (found.pk if found else None) == (expected.pk if expected else None)
    generated = directline.generate(secret)
    assert generated.status_code == (200 if found else 401), generated.content


def test_a_token_of_a_deleted_bots_conversation_is_refused(directline, dl_bot, dl_secret):
    token = directline.generate(dl_secret).json()["token"]
    started = directline.start(token)
    assert started.status_code == 200, started.content
    conversation_id = started.json()["conversationId"]
    assert directline.poll(token, conversation_id).status_code == 200

    Bot.all_objects.filter(pk=dl_bot.pk).update(deleted_at=timezone.now())

    refused = directline.poll(token, conversation_id)
    assert refused.status_code == 401, refused.content
    assert "no longer exists" in refused.content.decode()
    assert directline.send(token, conversation_id, "hello").status_code == 401


def test_a_token_of_a_deactivated_owners_conversation_is_refused(directline, dl_bot, dl_secret):
    token = directline.generate(dl_secret).json()["token"]
    conversation_id = directline.start(token).json()["conversationId"]
    type(dl_bot.owner).objects.filter(pk=dl_bot.owner_id).update(is_active=False)

    assert directline.poll(token, conversation_id).status_code == 401


def test_the_token_lookup_loads_the_conversations_bot_as_the_orm_does(django_assert_num_queries):
    bot_session = BotSessionFactory()
    with django_assert_num_queries(1):
        loaded = bot_session_by_digest(token_digest=bot_session.token_digest, with_bot=True)
        bot = loaded.conversation.bot
    expected = BotSession.objects.select_related("conversation__bot").get(pk=bot_session.pk)
    assert field_values(loaded) == field_values(expected)
    assert field_values(loaded.conversation) == field_values(expected.conversation)
    assert type(bot) is Bot and field_values(bot) == field_values(expected.conversation.bot)

    # A deleted bot is loaded all the same (the caller judges it); a conversation without a bot still is.
    Bot.all_objects.filter(pk=bot.pk).update(deleted_at=timezone.now())
    assert bot_session_by_digest(token_digest=bot_session.token_digest, with_bot=True).conversation.bot.deleted_at
    Conversation.all_objects.filter(pk=bot_session.conversation_id).update(bot=None)
    with django_assert_num_queries(1):
        loaded = bot_session_by_digest(token_digest=bot_session.token_digest, with_bot=True)
        assert loaded.pk == bot_session.pk and loaded.conversation.bot is None
