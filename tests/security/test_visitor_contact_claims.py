"""What anonymous visitors say about themselves is a claim: it never changes or takes over an owner's contact."""

import importlib

import pytest
from django.apps import apps
from rest_framework.test import APIClient

from sessions_app.models import BotSession, Contact, ContactSource, Conversation
from sessions_app.tests.apis.helpers import open_session, post
from sessions_app.tests.factories import ContactFactory, ConversationFactory

pytestmark = pytest.mark.django_db

CAROL = {"name": "Carol", "email": "carol@example.com", "phone": "+14155552671"}


@pytest.fixture
def carol(owner_client):
    response = post(owner_client, "/api/v1/contact/create", CAROL)
    assert response.status_code == 200, response.content
    return Contact.objects.get(pk=response.json()["id"])


def test_an_anonymous_claim_neither_renames_nor_takes_over_the_owners_contact(carol, public_bot):
    for contact in ({"name": "Mallory", "email": "CAROL@example.com"}, {"name": "Mallory", "phone": CAROL["phone"]}):
        opened = open_session(APIClient(), public_bot, {"contact": contact})
        carol.refresh_from_db()
        assert (carol.name, carol.email, carol.phone) == ("Carol", CAROL["email"], CAROL["phone"])
        conversation = Conversation.objects.get(pk=opened["conversationId"])
        assert conversation.contact_id != carol.pk
        assert conversation.contact.source == ContactSource.VISITOR and conversation.contact.name == "Mallory"
    assert not carol.conversations.exists()


def test_anonymous_claims_share_one_unverified_contact_the_later_name_updating_it(carol, public_bot, owner_client):
    first = open_session(APIClient(), public_bot, {"contact": {"name": "Mallory", "email": CAROL["email"]}})
    second = open_session(APIClient(), public_bot, {"contact": {"name": "Eve", "email": CAROL["email"]}})
    claim = Contact.objects.get(source=ContactSource.VISITOR)
    assert claim.name == "Eve" and claim.email == CAROL["email"] and claim.verified_at is None
    assert set(claim.conversations.values_list("pk", flat=True)) == {
        Conversation.objects.get(pk=first["conversationId"]).pk,
        Conversation.objects.get(pk=second["conversationId"]).pk,
    }
    listed = {item["id"]: item for item in owner_client.get("/api/v1/contact/list").json()["items"]}
    assert listed[str(carol.pk)]["source"] == "owner"
    assert listed[str(claim.pk)]["source"] == "visitor" and "verifiedAt" not in listed[str(claim.pk)]
    fetched = owner_client.get(f"/api/v1/contact/{claim.pk}/fetch").json()
    assert fetched["source"] == "visitor"


def test_the_owner_may_create_a_contact_with_a_claimed_email_and_the_two_stay_apart(public_bot, owner_client):
    open_session(APIClient(), public_bot, {"contact": {"name": "Mallory", "email": CAROL["email"]}})
    created = post(owner_client, "/api/v1/contact/create", {"name": "Carol", "email": CAROL["email"]})
    assert created.status_code == 200, created.content
    carol = Contact.objects.get(pk=created.json()["id"])
    assert carol.source == ContactSource.OWNER
    claim = Contact.objects.get(source=ContactSource.VISITOR)
    # Later claims still go to the claim; a second owner contact with that email is a conflict.
    open_session(APIClient(), public_bot, {"contact": {"name": "Mallory 2", "email": CAROL["email"]}})
    claim.refresh_from_db()
    carol.refresh_from_db()
    assert claim.name == "Mallory 2" and carol.name == "Carol" and claim.conversations.count() == 2
    again = post(owner_client, "/api/v1/contact/create", {"email": CAROL["email"]})
    assert again.status_code == 409
    # Updating the claim keeps it a claim, and its email may stay the same as the owner's contact's.
    updated = post(owner_client, f"/api/v1/contact/{claim.pk}/update", {"description": "suspicious"})
    assert updated.status_code == 200, updated.content
    claim.refresh_from_db()
    assert claim.source == ContactSource.VISITOR and claim.description == "suspicious"


def test_the_owners_own_session_still_files_under_the_owners_contact(carol, owner_client, bot):
    opened = open_session(owner_client, bot, {"contact": {"name": "Carol B", "email": CAROL["email"]}})
    assert Conversation.objects.get(pk=opened["conversationId"]).contact_id == carol.pk
    carol.refresh_from_db()
    assert carol.name == "Carol B"


def test_another_owners_secret_on_a_public_bot_is_a_visitor_claim(carol, other_client, public_bot):
    opened = open_session(other_client, public_bot, {"contact": {"name": "Mallory", "email": CAROL["email"]}})
    contact = Conversation.objects.get(pk=opened["conversationId"]).contact
    assert contact.source == ContactSource.VISITOR and contact.pk != carol.pk
    carol.refresh_from_db()
    assert carol.name == "Carol"


def test_the_migration_marks_only_contacts_that_anonymous_sessions_alone_made(owner, bot):
    migration = importlib.import_module("sessions_app.migrations.0006_contact_source")

    def contact_with_session(fingerprint, created_by=None, **extra):
        contact = ContactFactory(owner=owner, fingerprint=fingerprint, **extra)
        conversation = ConversationFactory(bot=bot, contact=contact)
        BotSession.objects.create(
            conversation=conversation,
            token_digest=fingerprint.ljust(64, "0")[:64],
            duration_seconds=3600,
            expires_at=conversation.created_at,
            created_by=created_by,
        )
        return contact

    anonymous = contact_with_session("email:a@example.com", email="a@example.com")
    by_owner = contact_with_session("email:b@example.com", created_by=owner, email="b@example.com")
    verified = contact_with_session("phone:+14155552671", verified_at=bot.created_at)
    owner_made = contact_with_session("contact:42")
    no_sessions = ContactFactory(owner=owner, fingerprint="anonymous:1")
    migration.mark_visitor_claims(apps, None)
    sources = dict(Contact.objects.values_list("pk", "source"))
    assert sources[anonymous.pk] == ContactSource.VISITOR
    for kept in (by_owner, verified, owner_made, no_sessions):
        assert sources[kept.pk] == ContactSource.OWNER
