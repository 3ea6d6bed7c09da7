from datetime import timedelta

import pytest
from django.utils import timezone

from botportal.errors import Busy, InvalidInput, NotFound
from bots.tests.factories import BotFactory, VariableFactory
from sessions_app.models import Conversation, Message
from sessions_app.protocols.einstein.models import EinsteinSession
from sessions_app.protocols.einstein.runtime import (
    choice_resolve,
    request_digest,
    runtime_bot_get,
    runtime_org_id_matches,
    runtime_session_begin,
    runtime_session_continue,
    runtime_session_end,
    runtime_session_get,
    time_zone_check,
)
from sessions_app.services.owners import owner_profile_ensure

pytestmark = pytest.mark.django_db


def render(outcome):
    return {"messages": [m.text for m in outcome.bot_messages], "variables": dict(outcome.conversation.variables)}


def turn(conversation, sequence_id, text="hi"):
    message = {"type": "text", "text": text, "sequenceId": sequence_id}
    return runtime_session_continue(
        conversation=conversation,
        sequence_id=sequence_id,
        digest=request_digest({"message": message}),
        message=message,
        render=render,
    )


def test_org_id_matches_all_18_characters_or_the_first_15(owner):
    org = owner_profile_ensure(owner=owner).org_id
    assert len(org) == 18
    assert runtime_org_id_matches(owner=owner, org_id=org)
    assert runtime_org_id_matches(owner=owner, org_id=org[:15])
    assert not runtime_org_id_matches(owner=owner, org_id=org[:16])
    assert not runtime_org_id_matches(owner=owner, org_id=org.lower() if org != org.lower() else org[:-1] + "!")


def test_bots_are_owner_scoped(owner, other_owner, bot):
    org = owner_profile_ensure(owner=owner).org_id
    assert runtime_bot_get(owner=owner, org_id=org, bot_id=str(bot.pk)) == bot
    with pytest.raises(NotFound):
        runtime_bot_get(owner=other_owner, org_id=owner_profile_ensure(owner=other_owner).org_id, bot_id=str(bot.pk))
    with pytest.raises(NotFound):
        runtime_bot_get(owner=owner, org_id=org, bot_id="garbage")


def test_time_zones():
    assert time_zone_check(None) == "UTC"
    assert time_zone_check("Europe/Paris") == "Europe/Paris"
    for bad in ("Europe/Atlantis", "", 5, "../etc/passwd"):
        with pytest.raises(InvalidInput):
            time_zone_check(bad)


def test_begin_stores_variables_welcome_and_answer_in_one_go(bot):
    bot.welcome_messages = ["Welcome"]
    bot.save()
    VariableFactory(bot=bot, name="qty", type="number")
    outcome = runtime_session_begin(
        bot=bot,
        external_session_key="key-1",
        text="hello",
        tz="Asia/Tokyo",
        variables=[{"name": "qty", "type": "number", "value": 2}, {"name": "$Context.X", "type": "text", "value": "y"}],
    )
    conversation = outcome.conversation
    assert conversation.variables == {"qty": 2, "$Context.X": "y"}
    assert conversation.timezone == "Asia/Tokyo" and conversation.origin == "einstein"
    state = EinsteinSession.objects.get(conversation=conversation)
    assert state.variable_types == {"qty": "number", "$Context.X": "text"} and state.external_session_key == "key-1"
    assert conversation.meta == {}
    assert [m.text for m in outcome.bot_messages] == ["Welcome", bot.fallback_message]
    assert outcome.variables_sent == {"qty", "$Context.X"}


def test_a_failed_begin_leaves_no_rows(bot):
    with pytest.raises(InvalidInput, match="qty"):
        runtime_session_begin(
            bot=bot, external_session_key="k", variables=[{"name": "qty", "type": "number", "value": 1}]
        )
    with pytest.raises(InvalidInput, match="tz"):
        runtime_session_begin(bot=bot, external_session_key="k", tz="Nowhere/Land")
    assert not Conversation.objects.exists() and not Message.objects.exists()
    assert not EinsteinSession.objects.exists()


def test_sequence_ids_increase_and_an_identical_retry_is_replayed(bot):
    conversation = runtime_session_begin(bot=bot, external_session_key="k").conversation
    first = turn(conversation, 3)
    assert not first.replayed
    replay = turn(conversation, 3)
    assert replay.replayed and replay.response == first.response
    assert Message.objects.filter(conversation=conversation, type="user").count() == 1
    with pytest.raises(InvalidInput, match="last processed sequenceId 3"):
        turn(conversation, 3, text="different")
    with pytest.raises(InvalidInput, match="last processed sequenceId 3"):
        turn(conversation, 2)
    assert not turn(conversation, 4).replayed
    assert EinsteinSession.objects.get(conversation=conversation).last_sequence_id == 4


def test_a_turn_in_progress_makes_the_next_one_busy_until_it_ends_or_goes_stale(bot, settings):
    conversation = runtime_session_begin(bot=bot, external_session_key="k").conversation
    in_progress = Conversation.objects.filter(pk=conversation.pk)
    in_progress.update(turn_ticket=1, turn_served=0, turn_since=timezone.now())
    with pytest.raises(Busy):
        turn(conversation, 1)
    assert not Message.objects.filter(conversation=conversation, type="user").exists()
    # A turn whose process died is released after TURN_TIMEOUT.
    in_progress.update(turn_since=timezone.now() - timedelta(seconds=settings.BOTPORTAL["TURN_TIMEOUT"] + 1))
    assert not turn(conversation, 1).replayed
    conversation.refresh_from_db()
    assert conversation.turn_served == conversation.turn_ticket == 1


def test_a_failed_turn_releases_the_lock_and_stores_nothing(bot, monkeypatch):
    conversation = runtime_session_begin(bot=bot, external_session_key="k").conversation

    def broken(outcome):
        raise RuntimeError("render failed")

    message = {"type": "text", "text": "hi", "sequenceId": 1}
    with pytest.raises(RuntimeError):
        runtime_session_continue(conversation=conversation, sequence_id=1, digest="d", message=message, render=broken)
    assert not Message.objects.filter(conversation=conversation, type="user").exists()
    assert EinsteinSession.objects.get(conversation=conversation).last_sequence_id is None
    assert not turn(conversation, 1).replayed


def test_session_get_and_end(owner, bot):
    org = owner_profile_ensure(owner=owner).org_id
    conversation = runtime_session_begin(bot=bot, external_session_key="k").conversation
    assert runtime_session_get(owner=owner, org_id=org, session_id=str(conversation.pk)) == conversation
    with pytest.raises(InvalidInput):
        runtime_session_end(conversation=conversation, reason="Whatever")
    runtime_session_end(conversation=conversation, reason="Transfer")
    with pytest.raises(NotFound, match="ended"):
        runtime_session_get(owner=owner, org_id=org, session_id=str(conversation.pk))
    other_bot = BotFactory()
    with pytest.raises(NotFound):
        runtime_session_get(owner=other_bot.owner, org_id=org, session_id=str(conversation.pk))


def test_choice_resolution_uses_the_last_offered_choices(bot):
    conversation = runtime_session_begin(bot=bot, external_session_key="k").conversation
    conversation.engine_state = {"choices": [{"id": "a", "label": "A"}, {"id": "b", "label": "B"}]}
    assert choice_resolve(conversation=conversation, choice_index=2)["id"] == "b"
    assert choice_resolve(conversation=conversation, choice_id="a")["label"] == "A"
    with pytest.raises(InvalidInput):
        choice_resolve(conversation=conversation, choice_index=0)
    with pytest.raises(InvalidInput):
        choice_resolve(conversation=conversation, choice_id="zzz")
