"""Reads of an owner's contacts."""

from django.db.models import QuerySet

from botportal import validation
from botportal.errors import NotFound
from sessions_app.models import Contact, Conversation


def contact_list(*, owner) -> QuerySet:
    return Contact.objects.filter(owner=owner)


def contact_get(*, owner, contact_id) -> Contact:
    key = validation.uuid_or_none(contact_id)
    contact = contact_list(owner=owner).filter(pk=key).first() if key else None
    if contact is None:
        raise NotFound(f"No contact with id {contact_id!r}.")
    return contact


def contact_conversation_list(*, contact: Contact) -> QuerySet:
    return Conversation.objects.filter(owner_id=contact.owner_id, contact=contact)
