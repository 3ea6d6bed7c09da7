import uuid

from django.db import IntegrityError, transaction

from sessions_app.models import Contact


def contact_for_person(*, owner, name: str = "", email: str = "", phone: str = "") -> Contact:
    """The owner's contact for this person, created the first time they appear.

    `email` and `phone` must already be normalised (see botportal.validation). The same email, or
    failing that the same phone, finds the same contact; a name given updates it. Concurrent calls
    for the same person end with one contact: the per-owner unique constraints decide the race.
    """
    lookup = {"email": email} if email else {"phone": phone} if phone else None
    if lookup is None:
        return Contact.objects.create(owner=owner, fingerprint=f"anonymous:{uuid.uuid4()}", name=name)

    for _ in range(3):
        contact = Contact.objects.filter(owner=owner, **lookup).first()
        if contact is not None:
            return _contact_update_from_person(contact, name=name, email=email, phone=phone)
        key, value = next(iter(lookup.items()))
        try:
            with transaction.atomic():
                return Contact.objects.create(
                    owner=owner, fingerprint=f"{key}:{value}", name=name, email=email, phone=phone
                )
        except IntegrityError:
            # Another request created this person (or one with the same phone) meanwhile: look again.
            if not email and not phone:
                raise
            if email and phone and not Contact.objects.filter(owner=owner, email=email).exists():
                # The phone belongs to someone already known: recognise them by the phone instead.
                lookup = {"phone": phone}
    raise IntegrityError("could not resolve the contact")


def _contact_update_from_person(contact: Contact, *, name: str, email: str, phone: str) -> Contact:
    changed = []
    if name and contact.name != name:
        contact.name = name
        changed.append("name")
    if email and not contact.email and not Contact.objects.filter(owner_id=contact.owner_id, email=email).exists():
        contact.email = email
        changed.append("email")
    if phone and not contact.phone and not Contact.objects.filter(owner_id=contact.owner_id, phone=phone).exists():
        contact.phone = phone
        changed.append("phone")
    if changed:
        contact.save(update_fields=[*changed, "updated_at"])
    return contact
