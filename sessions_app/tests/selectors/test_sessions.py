"""The hand-written token lookup loads the same instances a Django query would."""

from datetime import timedelta

import pytest
from django.utils import timezone

from sessions_app.models import BotSession, Conversation
from sessions_app.selectors.sessions import bot_session_by_digest
from sessions_app.tests.factories import BotSessionFactory, ConversationFactory
from tests.model_fields import field_values

pytestmark = pytest.mark.django_db



def test_loads_the_session_and_its_conversation_as_the_orm_does():
    now = timezone.now()
    conversation = ConversationFactory(
        meta={"channel": "web", "n": 3},
        variables={"orderNumber": "A-17", "flags": [True, None]},
        engine_state={"slot": "order", "offered": [{"label": "Yes"}]},
        ended_at=now - timedelta(minutes=1),
        timezone="Europe/Paris",
    )
    bot_session = BotSessionFactory(conversation=conversation, revoked_at=now, last_used_at=now - timedelta(seconds=30))

    loaded = bot_session_by_digest(token_digest=bot_session.token_digest)

    expected = BotSession.objects.select_related("conversation").get(pk=bot_session.pk)
    assert type(loaded) is BotSession and loaded._state.adding is False
    assert field_values(loaded) == field_values(expected)
    assert type(loaded.conversation) is Conversation and loaded.conversation._state.adding is False
    assert field_values(loaded.conversation) == field_values(expected.conversation)
    assert loaded.conversation.variables["flags"] == [True, None]
    assert loaded.expires_at.tzinfo is not None


def test_an_unknown_digest_is_none():
    BotSessionFactory()

    assert bot_session_by_digest(token_digest="0" * 64) is None


def test_a_deactivated_owners_session_is_not_found():
    bot_session = BotSessionFactory()
    owner = bot_session.conversation.owner
    type(owner).objects.filter(pk=owner.pk).update(is_active=False)

    assert bot_session_by_digest(token_digest=bot_session.token_digest) is None

    type(owner).objects.filter(pk=owner.pk).update(is_active=True)
    assert bot_session_by_digest(token_digest=bot_session.token_digest).pk == bot_session.pk


def test_also_loads_a_protocols_state_of_the_conversation_in_the_same_statement(django_assert_num_queries):
    from sessions_app.protocols.directline.models import DirectLineConversation

    stated, bare = BotSessionFactory(), BotSessionFactory()
    DirectLineConversation.objects.create(
        conversation=stated.conversation, user_id="u-7", trusted_origins=["https://shop.example"]
    )
    with django_assert_num_queries(1):
        loaded = bot_session_by_digest(token_digest=stated.token_digest, also=("directline",))
        state = loaded.conversation.directline
        assert state.conversation is loaded.conversation
    expected = DirectLineConversation.objects.get(pk=stated.conversation_id)
    assert field_values(state) == field_values(expected)
    with django_assert_num_queries(1):
        loaded = bot_session_by_digest(token_digest=bare.token_digest, also=("directline",))
        with pytest.raises(DirectLineConversation.DoesNotExist):
            _ = loaded.conversation.directline
    # Without `also`, the statement is the one every other token request makes.
    assert bot_session_by_digest(token_digest=stated.token_digest).pk == stated.pk
