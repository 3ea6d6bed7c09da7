"""Shared pieces of the fuzz tests: how many examples, the checks, real objects to aim at."""

import os
from dataclasses import dataclass

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from bots.tests.factories import AbilityFactory, BotFactory, DatasetFactory, DatasetRecordFactory, SkillsetFactory
from sessions_app.services.owners import api_key_create, owner_profile_ensure
from sessions_app.tests.factories import BotSessionFactory, ContactFactory, ConversationFactory, MessageFactory
from tests.throttle_rates import rates_set

# Examples per operation: a few in CI; a release runs e.g. FUZZ_EXAMPLES=200.
FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))

# No 5xx, and every answer (status, content type, headers, body) is what the document says.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

FUZZ_SETTINGS = hypothesis_settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    # Reproducible in CI; FUZZ_RANDOM=1 explores new examples on each run.
    derandomize=os.environ.get("FUZZ_RANDOM") != "1",
    database=None,
    # The database fixture is shared by an operation's examples on purpose: later examples see the
    # objects earlier ones created, as a real client's calls would.
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(autouse=True)
def _no_throttling(monkeypatch):
    # Hundreds of requests from one owner in seconds: the limits themselves are tested in test_throttling.
    rates_set(monkeypatch, "1000000/minute")


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    # The requests go through the WSGI handler, whose request signals close the database connection
    # after each one; Django's own test client disconnects that handler the same way.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@dataclass
class Target:
    """Real objects of one owner, so that generated requests reach past the 404s."""

    owner: object
    secret: str
    org_id: str
    ids: dict  # object kind -> id

    def session_token(self) -> str:
        from sessions_app.models import Conversation

        conversation = Conversation.objects.filter(pk=self.ids["conversation"]).first()
        if conversation is None:  # deleted by an earlier example
            conversation = ConversationFactory(bot__owner=self.owner)
            self.ids["conversation"] = str(conversation.pk)
        return BotSessionFactory.with_token(conversation=conversation)[1]


@pytest.fixture
def target(owner):
    bot = BotFactory(owner=owner, visibility="public")
    dataset = DatasetFactory(owner=owner)
    skillset = SkillsetFactory(owner=owner)
    contact = ContactFactory(owner=owner)
    conversation = ConversationFactory(bot=bot, contact=contact)
    MessageFactory(conversation=conversation)
    return Target(
        owner=owner,
        secret=api_key_create(owner=owner, name="fuzz")[1],
        org_id=owner_profile_ensure(owner=owner).org_id,
        ids={
            "bot": str(bot.pk),
            "dataset": str(dataset.pk),
            "record": str(DatasetRecordFactory(dataset=dataset).pk),
            "skillset": str(skillset.pk),
            "ability": str(AbilityFactory(skillset=skillset).pk),
            "contact": str(contact.pk),
            "conversation": str(conversation.pk),
            "bots": str(bot.pk),
            "sessions": str(conversation.pk),
        },
    )


def aim(path_template: str, parameters: dict, ids: dict) -> None:
    """Point most generated path ids at real objects: the kind is the path segment before each id.

    Every third example keeps its generated id, so malformed and unknown ids are fuzzed too.
    """
    segments = path_template.strip("/").split("/")
    for index, segment in enumerate(segments):
        if not (segment.startswith("{") and segment.endswith("}")):
            continue
        name = segment[1:-1]
        if name not in parameters or index == 0:
            continue
        kind = segments[index - 1]
        if kind in ids and len(str(parameters[name])) % 3 != 0:
            parameters[name] = ids[kind]
