"""directline 0005 carries the Direct Line state of existing conversations over from
meta["_directline"], which leaves meta, and carries it back when rolled back (both databases: run with
DATABASE_URL)."""

import pytest

from sessions_app.models import Conversation
from sessions_app.protocols.directline.models import DirectLineConversation

from .conftest import latest, migrate

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("sessions_app", "0009_conversation_origin_directline"), ("directline", "0002_bot_owner_permissions")]
DETAILS = {"trustedOrigins": ["https://shop.example"], "user": {"id": "u-7", "name": "Ann"}}


def _old_rows(apps):
    User = apps.get_model("auth", "User")
    OldConversation = apps.get_model("sessions_app", "Conversation")
    owner = User.objects.create(username="owner")
    started = OldConversation.objects.create(
        owner=owner, origin="directline", meta={"ticket": "T-1", "_directline": DETAILS}
    )
    anonymous = OldConversation.objects.create(owner=owner, origin="directline", meta={"_directline": {"trustedOrigins": []}})
    plain = OldConversation.objects.create(owner=owner, origin="chatbotkit", meta={"a": 1})
    return started.pk, anonymous.pk, plain.pk


def test_the_state_is_carried_over_and_leaves_meta(before):
    started, anonymous, plain = _old_rows(before)

    migrate(latest())

    state = DirectLineConversation.objects.get(pk=started)
    assert (state.user_id, state.user_name, state.trusted_origins) == ("u-7", "Ann", ["https://shop.example"])
    assert state.created_at == Conversation.all_objects.get(pk=started).created_at
    assert Conversation.all_objects.get(pk=started).meta == {"ticket": "T-1"}
    fresh = DirectLineConversation.objects.get(pk=anonymous)
    assert (fresh.user_id, fresh.user_name, fresh.trusted_origins) == ("", "", [])
    assert Conversation.all_objects.get(pk=anonymous).meta == {}
    assert Conversation.all_objects.get(pk=plain).meta == {"a": 1}
    assert not DirectLineConversation.objects.filter(pk=plain).exists()
    # The state goes with its conversation.
    Conversation.all_objects.filter(pk=started).delete()
    assert not DirectLineConversation.objects.filter(pk=started).exists()


def test_a_rollback_carries_the_state_back(before):
    started, anonymous, plain = _old_rows(before)
    migrate(latest())

    apps = migrate(BEFORE)

    OldConversation = apps.get_model("sessions_app", "Conversation")
    assert OldConversation.objects.get(pk=started).meta == {"ticket": "T-1", "_directline": DETAILS}
    assert OldConversation.objects.get(pk=anonymous).meta == {"_directline": {"trustedOrigins": []}}
    assert OldConversation.objects.get(pk=plain).meta == {"a": 1}
