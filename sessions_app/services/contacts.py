import hashlib
import uuid

from django.db import IntegrityError, transaction

from sessions_app.models import Contact, ContactSource

FINGERPRINT_LENGTH = Contact._meta.get_field("fingerprint").max_length


def contact_for_person(
    *, owner, name: str = "", email: str = "", phone: str = "", source: str = ContactSource.OWNER
) -> Contact:
    """The owner's contact for this person, created the first time they appear.

    `email` and `phone` must already be normalised and within their lengths (see botportal.validation).
    The same email, or failing that the same phone, finds the same contact of the same `source`; a name
    given updates it. A visitor's claim (`source` VISITOR) therefore only ever finds, changes or shares
    other visitors' claims, never a contact the owner made. Concurrent calls for the same person end with
    one contact: the unique constraints per owner and source decide the race.
    """
    prefix = "visitor:" if source == ContactSource.VISITOR else ""
    lookup = {"email": email} if email else {"phone": phone} if phone else None
    if lookup is None:
        return Contact.objects.create(
            owner=owner, source=source, fingerprint=f"{prefix}anonymous:{uuid.uuid4()}", name=name
        )

    for attempt in range(3):
        contact = Contact.objects.filter(owner=owner, source=source, **lookup).first()
        if contact is not None:
            return _contact_update_from_person(contact, name=name, email=email, phone=phone)
        key, value = next(iter(lookup.items()))
        # A fingerprint taken by a contact of the other source (or one recorded before sources were
        # told apart) must not stop this person from being recorded: the retry takes a fresh one.
        fingerprint = _fingerprint(f"{prefix}{key}:", value if attempt == 0 else str(uuid.uuid4()))
        try:
            with transaction.atomic():
                return Contact.objects.create(
                    owner=owner, source=source, fingerprint=fingerprint, name=name, email=email, phone=phone
                )
        except IntegrityError:
            # Another request created this person (or one with the same phone) meanwhile: look again.
            if email and phone and not _taken(owner.pk, source, email=email):
                # The phone belongs to someone already known: recognise them by the phone instead.
                lookup = {"phone": phone}
    raise IntegrityError("could not resolve the contact")


def _fingerprint(prefix: str, value: str) -> str:
    fingerprint = f"{prefix}{value}"
    if len(fingerprint) <= FINGERPRINT_LENGTH:
        return fingerprint
    return f"{prefix}sha256:{hashlib.sha256(value.encode()).hexdigest()}"


def _taken(owner_id, source: str, **field) -> bool:
    return Contact.objects.filter(owner_id=owner_id, source=source, **field).exists()


def _contact_update_from_person(contact: Contact, *, name: str, email: str, phone: str) -> Contact:
    changed = []
    if name and contact.name != name:
        contact.name = name
        changed.append("name")
    if email and not contact.email and not _taken(contact.owner_id, contact.source, email=email):
        contact.email = email
        changed.append("email")
    if phone and not contact.phone and not _taken(contact.owner_id, contact.source, phone=phone):
        contact.phone = phone
        changed.append("phone")
    if changed:
        contact.save(update_fields=[*changed, "updated_at"])
    return contact
