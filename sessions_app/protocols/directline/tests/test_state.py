"""What Direct Line keeps of a conversation (DirectLineConversation): written when it starts one, read
in the same statement as the conversation by every request that needs it, absent for a conversation
another protocol started."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sessions_app.models import BotSession, Conversation
from sessions_app.protocols.directline.consumers import _stream_open
from sessions_app.protocols.directline.models import DirectLineConversation

pytestmark = pytest.mark.django_db

TABLE = DirectLineConversation._meta.db_table
SHOP = "https://shop.example"


@pytest.fixture
def trusted(directline, dl_secret):
    """(conversationId, token) of a conversation whose token trusts SHOP, for the user u-7 (Ann)."""
    body = directline.generate(dl_secret, {"user": {"id": "u-7", "name": "Ann"}, "trustedOrigins": [SHOP]}).json()
    return body["conversationId"], body["token"]


def _state_reads(queries) -> list[str]:
    return [query["sql"] for query in queries if TABLE in query["sql"]]


def test_a_start_writes_the_state_and_nothing_in_meta(directline, dl_secret):
    body = directline.start(dl_secret).json()
    state = DirectLineConversation.objects.get(pk=body["conversationId"])
    assert (state.user_id, state.user_name, state.trusted_origins) == ("", "", [])
    assert Conversation.objects.get(pk=body["conversationId"]).meta == {}
    # Without a user, the activities are from user-<conversation id>.
    activities = directline.poll(body["token"], body["conversationId"]).json()["activities"]
    assert activities and all(a["recipient"] == {"id": f"user-{body['conversationId']}", "role": "user"}
                              for a in activities)


def test_a_refused_start_leaves_no_state(directline, dl_secret):
    before = (Conversation.objects.count(), DirectLineConversation.objects.count())
    assert directline.generate(dl_secret, {"trustedOrigins": ["not an origin"]}).status_code == 400
    assert (Conversation.objects.count(), DirectLineConversation.objects.count()) == before


@pytest.mark.django_db(transaction=True)
def test_a_start_is_one_transaction_and_leaves_nothing_when_its_state_fails(directline, dl_secret, monkeypatch):
    from sessions_app.protocols.directline import services

    with CaptureQueriesContext(connection) as queries:
        assert directline.generate(dl_secret, {"user": {"id": "u-1"}}).status_code == 200
    # The state is stored in the session's own transaction: no savepoint inside it.
    assert not [q["sql"] for q in queries.captured_queries if "SAVEPOINT" in q["sql"]]
    before = (Conversation.objects.count(), BotSession.objects.count(), DirectLineConversation.objects.count())

    def failing_insert(row):
        raise RuntimeError("the state could not be stored")

    monkeypatch.setattr(services, "row_insert", failing_insert)
    failed = directline.generate(dl_secret, {"user": {"id": "u-2"}})
    assert failed.status_code == 500 and "error" in failed.json()
    assert (Conversation.objects.count(), BotSession.objects.count(), DirectLineConversation.objects.count()) == before


def test_a_token_request_reads_the_state_with_its_token(directline, trusted):
    conversation_id, token = trusted
    directline.poll(token, conversation_id)  # the token's first use is recorded; the next one's is not due
    with CaptureQueriesContext(connection) as queries:
        polled = directline.poll(token, conversation_id, HTTP_ORIGIN=SHOP)
    assert polled.status_code == 200, polled.content
    assert polled.json()["activities"][0]["recipient"] == {"id": "u-7", "name": "Ann", "role": "user"}
    (read,) = _state_reads(queries.captured_queries)
    assert BotSession._meta.db_table in read
    # The token's lookup (its conversation, state and bot in the same statement), the page of messages.
    assert len(queries.captured_queries) == 2, [q["sql"][:60] for q in queries.captured_queries]


def test_a_secret_request_reads_the_state_with_its_conversation(directline, trusted, dl_secret):
    conversation_id, _ = trusted
    with CaptureQueriesContext(connection) as queries:
        polled = directline.poll(dl_secret, conversation_id)
    assert polled.status_code == 200, polled.content
    assert polled.json()["activities"][0]["recipient"]["id"] == "u-7"
    (read,) = _state_reads(queries.captured_queries)
    assert Conversation._meta.db_table in read


def test_the_stream_reads_the_state_with_its_token(trusted):
    conversation_id, _ = trusted
    bot_session = BotSession.objects.get(conversation_id=conversation_id, revoked_at__isnull=True)
    with CaptureQueriesContext(connection) as queries:
        opened = _stream_open(conversation_id, bot_session.pk, SHOP, None)
    assert opened is not None
    (read,) = _state_reads(queries.captured_queries)
    assert BotSession._meta.db_table in read
    # The token with its conversation, bot and state, the line, the backlog: one statement each.
    assert len(queries.captured_queries) == 3, [q["sql"][:60] for q in queries.captured_queries]
    with CaptureQueriesContext(connection) as queries:
        assert _stream_open(conversation_id, bot_session.pk, "https://evil.example", None) is None
    assert len(_state_reads(queries.captured_queries)) == 1


def test_a_conversation_of_another_protocol_has_no_state_and_no_query_for_it(directline, public_bot, anon_client):
    public_bot.welcome_messages = ["Welcome, visitor."]
    public_bot.save()
    created = anon_client.post(f"/api/v1/bot/{public_bot.pk}/session/create", {}, format="json").json()
    conversation_id = created["conversationId"]
    with CaptureQueriesContext(connection) as queries:
        polled = directline.poll(created["token"], conversation_id)
    activities = polled.json()["activities"]
    assert activities[0]["recipient"] == {"id": f"user-{conversation_id}", "role": "user"}
    assert len(_state_reads(queries.captured_queries)) == 1
    assert not DirectLineConversation.objects.filter(pk=conversation_id).exists()
