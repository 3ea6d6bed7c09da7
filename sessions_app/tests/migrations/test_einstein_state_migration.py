"""einstein 0003 carries the Einstein state of existing conversations over from Conversation's columns
and meta["_runtime"], and carries it back when rolled back (both databases: run with DATABASE_URL)."""

import pytest

from sessions_app.models import Conversation
from sessions_app.protocols.einstein.models import EinsteinSession

from .conftest import latest, migrate

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("sessions_app", "0007_conversation_turn_queue"), ("einstein", None)]
RUNTIME = {
    "forceConfig": {"endpoint": "https://example.my.salesforce.com/"},
    "referrers": [{"type": "Salesforce:Core:Bot:Id", "value": "0Xx000000000001"}],
    "richContent": {"StaticContentMessage": ["Text"]},
    "variableTypes": {"qty": "number"},
}
RESPONSE = {"processedSequenceIds": [4], "messages": [{"type": "text", "id": "m-1", "text": "echo"}]}


def _old_rows(apps):
    User = apps.get_model("auth", "User")
    OldConversation = apps.get_model("sessions_app", "Conversation")
    owner = User.objects.create(username="owner")
    einstein = OldConversation.objects.create(
        owner=owner,
        origin="einstein",
        meta={"ticket": "T-1", "_runtime": RUNTIME},
        external_session_key="key-1",
        last_sequence_id=4,
        last_request_digest="d" * 64,
        last_response=RESPONSE,
    )
    begun_only = OldConversation.objects.create(owner=owner, origin="einstein", meta={"_runtime": RUNTIME})
    # A ChatBotKit conversation continued through Einstein: a sequenceId, no "_runtime".
    crossed = OldConversation.objects.create(owner=owner, origin="chatbotkit", meta={"a": 1}, last_sequence_id=2)
    plain = OldConversation.objects.create(owner=owner, origin="chatbotkit", meta={"a": 1})
    return einstein.pk, begun_only.pk, crossed.pk, plain.pk


def test_the_state_is_carried_over_and_leaves_meta(before):
    einstein, begun_only, crossed, plain = _old_rows(before)

    migrate(latest())

    state = EinsteinSession.objects.get(pk=einstein)
    assert (state.external_session_key, state.last_sequence_id, state.last_request_digest) == ("key-1", 4, "d" * 64)
    assert state.last_response == RESPONSE
    assert state.force_config == RUNTIME["forceConfig"] and state.referrers == RUNTIME["referrers"]
    assert state.rich_content == RUNTIME["richContent"] and state.variable_types == RUNTIME["variableTypes"]
    assert Conversation.all_objects.get(pk=einstein).meta == {"ticket": "T-1"}
    fresh = EinsteinSession.objects.get(pk=begun_only)
    assert fresh.last_sequence_id is None and fresh.last_response is None and fresh.variable_types == {"qty": "number"}
    assert Conversation.all_objects.get(pk=begun_only).meta == {}
    assert (
        EinsteinSession.objects.get(pk=crossed).last_sequence_id == 2
        and EinsteinSession.objects.get(pk=crossed).rich_content == {}
    )
    assert Conversation.all_objects.get(pk=crossed).meta == {"a": 1}
    assert not EinsteinSession.objects.filter(pk=plain).exists()
    assert EinsteinSession.objects.count() == 3
    # The state goes with its conversation.
    Conversation.all_objects.filter(pk=einstein).delete()
    assert not EinsteinSession.objects.filter(pk=einstein).exists()


def test_a_rollback_carries_the_state_back(before):
    einstein, _, crossed, plain = _old_rows(before)
    migrate(latest())

    apps = migrate(BEFORE)

    OldConversation = apps.get_model("sessions_app", "Conversation")
    restored = OldConversation.objects.get(pk=einstein)
    assert restored.meta == {"ticket": "T-1", "_runtime": RUNTIME}
    assert (restored.external_session_key, restored.last_sequence_id, restored.last_response) == ("key-1", 4, RESPONSE)
    assert restored.last_request_digest == "d" * 64
    assert OldConversation.objects.get(pk=crossed).last_sequence_id == 2
    assert OldConversation.objects.get(pk=plain).meta == {"a": 1}
