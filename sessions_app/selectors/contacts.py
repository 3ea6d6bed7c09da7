"""Reads of an owner's contacts."""

import uuid

from django.db.models import QuerySet

from botportal.errors import NotFound
from sessions_app.models import Contact, Conversation


def contact_list(*, owner) -> QuerySet:
    return Contact.objects.filter(owner=owner)


def contact_get(*, owner, contact_id) -> Contact:
    try:
        key = uuid.UUID(str(contact_id))
    except ValueError:
        key = None
    contact = contact_list(owner=owner).filter(pk=key).first() if key else None
    if contact is None:
        raise NotFound(f"No contact with id {contact_id!r}.")
    return contact


def contact_conversation_list(*, contact: Contact) -> QuerySet:
    return Conversation.objects.filter(owner_id=contact.owner_id, contact=contact)
