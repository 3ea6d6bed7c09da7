"""Each rule that used to be written in several places, evaluated through every path that applies it.

These tests fail if one of the paths stops using the shared definition and drifts: the idle boundary
through the token check, the Einstein session read and the lifecycle task; ending through the client,
the engine and the lifecycle; a session's status through the model, the queryset, the admin filter, the
admin's counts and the token check; visibility through the queryset, the model, session create and the
widget; the use-recording resolution through both credentials; the turn lock's staleness through the
claim, the Einstein busy check and the waiters.
"""

import re
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from botportal import validation
from botportal.errors import InvalidInput, NotAuthenticated, NotAuthorized, NotFound
from bots.engine import EngineReply
from bots.models import Bot, Visibility
from bots.tests.factories import BotFactory
from sessions_app.access import credentials
from sessions_app.admin.sessions import SessionStatusFilter
from sessions_app.models import ApiKey, BotSession, Conversation, EndReason, SessionStatus
from sessions_app.protocols.einstein.runtime import runtime_session_get
from sessions_app.selectors.admin import bot_activity_list
from sessions_app.services import conversations, lifecycle
from sessions_app.services.lifecycle import locks as lifecycle_locks
from sessions_app.services.lifecycle import policies as lifecycle_policies
from sessions_app.services.owners import api_key_authenticate, api_key_create, owner_profile_ensure
from sessions_app.services.sessions import bot_session_access_check, bot_session_authenticate, bot_session_create
from sessions_app.tests.factories import BotSessionFactory, ConversationFactory
from sessions_app.widget.selectors import widget_bot_get

pytestmark = pytest.mark.django_db

MICROSECOND = timedelta(microseconds=1)


@contextmanager
def frozen(instant):
    """timezone.now() (and the models' `now`) answer `instant`, so that a boundary is hit exactly."""
    with (
        mock.patch("django.utils.timezone.now", return_value=instant),
        mock.patch("sessions_app.models.now", return_value=instant),
    ):
        yield


# --- idle: idle *past* the timeout, the same instant for every path --------------------------------


def _idle_paths(owner, conversation, token, instant) -> dict[str, bool]:
    """Whether each path that applies the idle rule finds the conversation idle at `instant`."""
    found = {}
    with frozen(instant):
        found["model"] = Conversation.objects.get(pk=conversation.pk).is_idle()
        found["queryset"] = Conversation.objects.idle(now=instant).filter(pk=conversation.pk).exists()
        try:
            bot_session_authenticate(token=token)
            found["token check"] = False
        except NotAuthenticated as error:
            assert "idle" in str(error.message)
            found["token check"] = True
    # The lifecycle in a dry run first (it counts what it would end), then for real; then Einstein,
    # which ends an idle session it reads.
    found["lifecycle (dry run)"] = (
        lifecycle.conversations_end_idle(now=instant, dry_run=True).counts["conversations_ended"] == 1
    )
    with frozen(instant):
        try:
            runtime_session_get(
                owner=owner, org_id=owner_profile_ensure(owner=owner).org_id, session_id=str(conversation.pk)
            )
            found["einstein read"] = False
        except NotFound:
            found["einstein read"] = True
    Conversation.objects.filter(pk=conversation.pk).update(ended_at=None, end_reason="")
    found["lifecycle"] = lifecycle.conversations_end_idle(now=instant).counts["conversations_ended"] == 1
    return found


@pytest.mark.parametrize(
    ("past_timeout", "idle"),
    [(timedelta(0), False), (MICROSECOND, True)],
    ids=["exactly the timeout: not yet idle", "a microsecond past it: idle"],
)
def test_the_idle_boundary_is_the_same_for_every_path(owner, public_bot, past_timeout, idle):
    opened = bot_session_create(bot=public_bot, actor=None, duration_seconds=86400)
    instant = timezone.now()
    last_activity = instant - timedelta(seconds=settings.BOTPORTAL["IDLE_TIMEOUT"]) - past_timeout
    Conversation.objects.filter(pk=opened.conversation.pk).update(last_activity_at=last_activity)
    BotSession.objects.update(expires_at=instant + timedelta(hours=1))

    found = _idle_paths(owner, opened.conversation, opened.issued.token, instant)

    assert found == dict.fromkeys(found, idle)


# --- ending: one meaning, whichever path ends ----------------------------------------------------


def _end_by_client(conversation):
    conversations.conversation_end(conversation=conversation, reason=EndReason.USER_REQUEST)


def _end_by_engine(conversation):
    # A reply the engine marks as the end (a dialog's end step), saved as every turn's state is.
    locked = Conversation.objects.get(pk=conversation.pk)
    conversations._conversation_state_save(locked, EngineReply(messages=[], ended=True))


def _end_by_lifecycle(conversation):
    Conversation.objects.filter(pk=conversation.pk).update(
        last_activity_at=timezone.now() - timedelta(seconds=settings.BOTPORTAL["IDLE_TIMEOUT"] + 60)
    )
    assert lifecycle.conversations_end_idle().counts["conversations_ended"] == 1


@pytest.mark.parametrize(
    ("end", "reason"),
    [
        (_end_by_client, EndReason.USER_REQUEST),
        (_end_by_engine, EndReason.OTHER),
        (_end_by_lifecycle, EndReason.EXPIRATION),
    ],
    ids=["client", "engine", "lifecycle"],
)
def test_ending_means_the_same_whichever_path_ends(end, reason):
    conversation = ConversationFactory()
    live = BotSessionFactory(conversation=conversation)
    expired = BotSessionFactory(conversation=conversation, expires_at=timezone.now() - timedelta(minutes=5))
    earlier = timezone.now() - timedelta(hours=1)
    revoked_before = BotSessionFactory(conversation=conversation, revoked_at=earlier)
    other = BotSessionFactory()

    core = mock.Mock(wraps=conversations.conversations_end)
    with (
        mock.patch.object(conversations, "conversations_end", core),
        mock.patch.object(lifecycle_policies, "conversations_end", core),
    ):
        end(conversation)
    # The one core ran once, whichever path ended the conversation.
    assert core.call_count == 1

    ended = Conversation.objects.get(pk=conversation.pk)
    assert ended.ended_at is not None and ended.end_reason == reason
    # Every token not yet revoked is revoked at the instant the conversation ended; an earlier
    # revocation keeps its moment; another conversation's token is untouched.
    for session in (live, expired):
        assert BotSession.objects.get(pk=session.pk).revoked_at == ended.ended_at
    assert BotSession.objects.get(pk=revoked_before.pk).revoked_at == earlier
    assert BotSession.objects.get(pk=other.pk).revoked_at is None
    assert not BotSession.objects.filter(conversation=conversation).live().exists()


# --- a session's status ------------------------------------------------------------------------------


def test_a_sessions_status_is_the_same_in_every_place(owner, public_bot, rf):
    instant = timezone.now()
    conversation = ConversationFactory(bot=public_bot)
    sessions = {
        "active": BotSessionFactory.with_token(conversation=conversation, expires_at=instant + MICROSECOND),
        "expires now": BotSessionFactory.with_token(conversation=conversation, expires_at=instant),
        "expired": BotSessionFactory.with_token(conversation=conversation, expires_at=instant - timedelta(hours=1)),
        "revoked": BotSessionFactory.with_token(conversation=conversation, revoked_at=instant - timedelta(hours=1)),
        "revoked and expired": BotSessionFactory.with_token(
            conversation=conversation, expires_at=instant - timedelta(hours=1), revoked_at=instant - timedelta(hours=2)
        ),
    }
    expected = {
        "active": SessionStatus.ACTIVE,
        "expires now": SessionStatus.EXPIRED,
        "expired": SessionStatus.EXPIRED,
        "revoked": SessionStatus.REVOKED,
        "revoked and expired": SessionStatus.REVOKED,
    }
    with frozen(instant):
        for label, (session, token) in sessions.items():
            status = expected[label]
            assert session.status() == status, label
            for other in SessionStatus:
                in_queryset = BotSession.objects.with_status(other).filter(pk=session.pk).exists()
                admin_filter = SessionStatusFilter(
                    rf.get("/", {"status": other}), {"status": [other]}, BotSession, None
                )
                in_filter = admin_filter.queryset(None, BotSession.objects.all()).filter(pk=session.pk).exists()
                assert in_queryset == in_filter == (other == status), (label, other)
            assert BotSession.objects.live().filter(pk=session.pk).exists() == (status == SessionStatus.ACTIVE)
            if status == SessionStatus.ACTIVE:
                assert bot_session_authenticate(token=token).pk == session.pk
            else:
                with pytest.raises(NotAuthenticated, match=str(status)):
                    bot_session_authenticate(token=token)
        [activity] = bot_activity_list(bots_queryset=Bot.objects.filter(pk=public_bot.pk), days=1, now=instant)
    assert activity.active_sessions == 1


# --- visibility -------------------------------------------------------------------------------------


def test_visibility_is_the_same_in_every_place(owner, other_owner):
    bots = {visibility: BotFactory(owner=owner, visibility=visibility) for visibility in Visibility.values}
    for actor in (None, owner, other_owner):
        visible = set(Bot.objects.visible_to(actor).values_list("pk", flat=True))
        for visibility, bot in bots.items():
            expected = visibility == Visibility.PUBLIC or actor == owner
            assert (bot.pk in visible) == bot.is_visible_to(actor) == expected, (actor, visibility)
            try:
                bot_session_access_check(bot=bot, actor=actor)
                may_open = True
            except (NotAuthenticated, NotAuthorized):
                may_open = False
            assert may_open == expected, (actor, visibility)
            if actor is None:
                assert (widget_bot_get(bot_id=bot.pk) is not None) == expected, visibility


# --- recording a credential's use -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ago", "recorded"),
    [(credentials.LAST_USED_RESOLUTION, False), (credentials.LAST_USED_RESOLUTION + MICROSECOND, True)],
    ids=["exactly the resolution: not recorded", "past it: recorded"],
)
def test_both_credentials_record_their_use_at_the_same_resolution(owner, public_bot, ago, recorded):
    instant = timezone.now()
    api_key, secret = api_key_create(owner=owner, name="resolution")
    opened = bot_session_create(bot=public_bot, actor=None)
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=instant - ago)
    BotSession.objects.update(last_used_at=instant - ago)
    with frozen(instant):
        assert api_key_authenticate(secret=secret) == owner
        bot_session_authenticate(token=opened.issued.token)
    assert (ApiKey.objects.get(pk=api_key.pk).last_used_at == instant) is recorded
    assert (BotSession.objects.get().last_used_at == instant) is recorded


# --- the turn lock ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("since_ago", "stale"),
    [(timedelta(seconds=1), False), (None, True)],
    ids=["a live turn", "a turn due past TURN_TIMEOUT"],
)
def test_the_turn_locks_staleness_is_the_same_for_the_claim_the_waiters_and_einstein(since_ago, stale):
    instant = timezone.now()
    timeout = timedelta(seconds=conversations.turn_timeout())
    since = instant - (since_ago if since_ago is not None else timeout)
    conversation = ConversationFactory(turn_ticket=3, turn_served=2, turn_since=since)
    with frozen(instant):
        row = Conversation.objects.get(pk=conversation.pk)
        assert conversations.turn_is_stale(row) is stale
        assert conversations.turn_in_progress(row) is not stale
        assert conversations._turn_stale_since(row.turn_since) is stale
        # The waiters' skip releases exactly what the claim would take for dead.
        conversations._turn_skip_stale(conversation.pk, served=2)
    assert Conversation.objects.get(pk=conversation.pk).turn_served == (3 if stale else 2)


def test_the_cache_lock_is_released_only_by_its_holder():
    key = "botportal:lifecycle-lock:holder-check"
    with lifecycle_locks._cache_lock("holder-check", 60) as acquired:
        assert acquired
        # The lock expired and another run took it while this one was still finishing.
        cache.set(key, "another-run", 60)
    assert cache.get(key) == "another-run"
    cache.delete(key)
    with lifecycle_locks._cache_lock("holder-check", 60) as acquired:
        assert acquired
    assert cache.get(key) is None


# --- ids and input rules ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["not-a-uuid", "", None, 42, "12345678-1234-1234-1234-1234567890", "../../etc/passwd"]
)
def test_one_uuid_parser_names_nothing_for_a_malformed_id(value):
    assert validation.uuid_or_none(value) is None


def test_one_uuid_parser_accepts_the_forms_of_a_uuid():
    key = validation.uuid_or_none("6f1c3b52-8d8e-4f3a-9c49-6a2f0b7d9e11")
    assert validation.uuid_or_none(key) is key
    assert validation.uuid_or_none(str(key).upper()) == key
    assert validation.uuid_or_none(key.hex) == key


def test_no_hand_written_uuid_parser_is_left_outside_validation():
    root = Path(__file__).resolve().parents[3]
    parser = re.compile(r"uuid\.UUID\((?!\"[0-9a-f-]{36}\"\))|\bUUID\(str\(")
    found = [
        f"{path.relative_to(root)}:{number}"
        for package in ("botportal", "bots", "sessions_app")
        for path in (root / package).rglob("*.py")
        if "tests" not in path.parts and "migrations" not in path.parts and path.name != "validation.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if parser.search(line)
    ]
    assert found == []


def test_the_session_duration_rule_is_read_where_it_is_documented_and_enforced(settings):
    from drf_spectacular.generators import SchemaGenerator

    from sessions_app.admin.views import _duration_choices

    settings.BOTPORTAL = {**settings.BOTPORTAL, "SESSION_DURATION_MIN": 3600, "SESSION_DURATION_MAX": 7200}
    rule = validation.session_duration_rule()
    assert "3600 to 7200" in rule
    with pytest.raises(InvalidInput) as refused:
        validation.session_duration(1800)
    assert rule in refused.value.fields["durationInSeconds"]
    assert [seconds for seconds, _ in _duration_choices()] == [3600, 7200]
    schema = SchemaGenerator().get_schema(request=None, public=True)
    described = [
        properties["durationInSeconds"].get("description")
        for component in schema["components"]["schemas"].values()
        for properties in [component.get("properties", {})]
        if "durationInSeconds" in properties
    ]
    assert described and all(text == rule for text in described)
