"""The stream's hand-written read says what the ORM's rules say: the same marks as the look's, the
token line's end, and a deleted bot's or owner's conversation gone."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from bots.models import Bot
from sessions_app.models import BotSession, Conversation, OwnerProfile
from sessions_app.protocols.directline.fanout import _conversation_marks
from sessions_app.protocols.directline.selectors import stream_line, stream_session
from sessions_app.services.sessions import bot_session_refresh
from tests.model_fields import field_values

pytestmark = pytest.mark.django_db


def _line_of(conversation_id):
    token = BotSession.all_objects.filter(conversation_id=conversation_id).first()
    return stream_line(conversation_id=conversation_id, issued_first_at=token.issued_first_at), token


def test_its_marks_are_the_looks_and_move_with_a_message(directline, started):
    conversation_id, token = started
    line, _ = _line_of(conversation_id)
    marks, _ = _conversation_marks([conversation_id], timezone.now())
    assert line.marks == marks[conversation_id]
    assert line.marks[2] is not None  # the welcome
    directline.send(token, conversation_id, "show me the menu")
    moved, _ = _line_of(conversation_id)
    assert moved.marks != line.marks
    assert moved.marks == _conversation_marks([conversation_id], timezone.now())[0][conversation_id]


def test_the_line_ends_with_its_last_token_revoked_or_not(started):
    conversation_id, _ = started
    line, first = _line_of(conversation_id)
    assert line.tokens_end == first.expires_at
    assert line.ended_at is None
    later = bot_session_refresh(bot_session=BotSession.objects.get(pk=first.pk))
    refreshed = stream_line(conversation_id=conversation_id, issued_first_at=first.issued_first_at)
    # The first token is revoked now; the line lasts as long as the token refreshed from it.
    assert refreshed.tokens_end == later.bot_session.expires_at > first.expires_at
    BotSession.objects.filter(conversation_id=conversation_id).revoke()
    revoked = stream_line(conversation_id=conversation_id, issued_first_at=first.issued_first_at)
    assert revoked.tokens_end <= timezone.now()
    other_line = stream_line(conversation_id=conversation_id, issued_first_at=first.issued_first_at - timedelta(1))
    assert other_line.tokens_end is None


@pytest.mark.parametrize("deleted", ["bot", "owner"])
def test_a_deleted_bots_or_owners_conversation_is_gone(started, dl_bot, deleted):
    conversation_id, _ = started
    assert _line_of(conversation_id)[0] is not None
    if deleted == "bot":
        Bot.all_objects.filter(pk=dl_bot.pk).update(deleted_at=timezone.now())
    else:
        OwnerProfile.objects.update_or_create(
            owner=dl_bot.owner, defaults={"org_id": "00D000000000001", "deleted_at": timezone.now()}
        )
    assert _line_of(conversation_id)[0] is None


def test_the_session_comes_with_its_conversation(started):
    conversation_id, _ = started
    token = BotSession.objects.get(conversation_id=conversation_id)
    found = stream_session(bot_session_id=token.pk)
    assert found.pk == token.pk and str(found.conversation.pk) == conversation_id
    assert stream_session(bot_session_id=token.pk + 1000) is None


def test_the_session_comes_with_its_bot_unless_its_owner_was_deactivated(started, django_assert_num_queries):
    conversation_id, _ = started
    token = BotSession.objects.get(conversation_id=conversation_id)
    expected = Conversation.objects.select_related("bot").get(pk=conversation_id).bot
    with django_assert_num_queries(1):
        found = stream_session(bot_session_id=token.pk)
        bot = found.conversation.bot
    assert field_values(bot) == field_values(expected)
    get_user_model().objects.filter(pk=expected.owner_id).update(is_active=False)
    assert stream_session(bot_session_id=token.pk) is None
