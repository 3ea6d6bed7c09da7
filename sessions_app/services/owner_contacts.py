"""Owner writes for contacts: create, ensure (upsert by fingerprint), update, delete.

What the owner creates is the owner's contact (ContactSource.OWNER). Visitors' claims (VISITOR) are
kept apart: an owner's contact may have the email or phone of a claim, the two stay separate contacts
(the claim's conversations stay with the claim, which stays unverified), and an email or phone must
only be unique among the owner's own contacts. An owner may still update or delete a claim; it stays
a claim. To file a claim's conversations under the owner's contact, update each conversation's
contactId.
"""

import uuid

from django.db import IntegrityError, transaction

from botportal import validation
from botportal.errors import Conflict, InvalidInput
from sessions_app.models import Contact, ContactSource

CONTACT_FIELDS = frozenset({"fingerprint", "name", "email", "phone", "nick", "description", "preferences", "meta"})


def _normalised(fields: dict) -> dict:
    unknown = set(fields) - CONTACT_FIELDS
    if unknown:
        raise ValueError(f"unexpected fields: {sorted(unknown)}")
    checks = {
        "email": lambda: validation.email(fields.get("email"), field="email"),
        "phone": lambda: validation.phone(fields.get("phone"), field="phone"),
        "meta": lambda: validation.meta(fields.get("meta"), field="meta"),
        **{
            name: (lambda name=name: validation.short_text(fields.get(name), field=name, model=Contact, name=name))
            for name in ("fingerprint", "name", "nick")
        },
    }
    present = [name for name in checks if name in fields]
    values = validation.collect(*(checks[name] for name in present))
    return {**fields, **dict(zip(present, values, strict=True))}


def _unique_check(*, owner, fields: dict, source: str = ContactSource.OWNER, exclude_pk=None) -> None:
    """A clear 409 for a fingerprint another contact of the owner has, or an email or phone another
    contact of the same source has."""
    others = Contact.objects.filter(owner=owner).exclude(pk=exclude_pk)
    for name in ("email", "phone", "fingerprint"):
        scope = others if name == "fingerprint" else others.filter(source=source)
        if fields.get(name) and scope.filter(**{name: fields[name]}).exists():
            raise Conflict(f"Another contact already has this {name}.")


def contact_create(*, owner, fields: dict) -> Contact:
    fields = _normalised(fields)
    if not fields.get("fingerprint"):
        fields["fingerprint"] = f"contact:{uuid.uuid4()}"
    _unique_check(owner=owner, fields=fields)
    try:
        with transaction.atomic():
            return Contact.objects.create(owner=owner, source=ContactSource.OWNER, **fields)
    except IntegrityError:
        raise Conflict("Another contact already has this fingerprint, email or phone.") from None


def contact_ensure(*, owner, fields: dict) -> Contact:
    """The owner's contact with this fingerprint, created or updated with the given fields."""
    fields = _normalised(fields)
    fingerprint = fields.get("fingerprint")
    if not isinstance(fingerprint, str) or not fingerprint.strip():
        raise InvalidInput(fields={"fingerprint": "is required"})
    for _ in range(3):
        existing = Contact.objects.filter(owner=owner, fingerprint=fingerprint).first()
        if existing is not None:
            return contact_update(contact=existing, fields=fields)
        _unique_check(owner=owner, fields=fields)
        try:
            with transaction.atomic():
                return Contact.objects.create(owner=owner, source=ContactSource.OWNER, **fields)
        except IntegrityError:
            continue  # created concurrently: update that one instead
    raise Conflict("Another contact already has this email or phone.")


def contact_update(*, contact: Contact, fields: dict) -> Contact:
    fields = _normalised(fields)
    changed = [name for name, value in fields.items() if getattr(contact, name) != value]
    if not changed:
        return contact
    _unique_check(
        owner=contact.owner_id, fields={n: fields[n] for n in changed}, source=contact.source, exclude_pk=contact.pk
    )
    for name in changed:
        setattr(contact, name, fields[name])
    try:
        with transaction.atomic():
            contact.save(update_fields=[*changed, "updated_at"])
    except IntegrityError:
        raise Conflict("Another contact already has this fingerprint, email or phone.") from None
    return contact


def contact_delete(*, contact: Contact) -> None:
    from sessions_app.services import deletions

    deletions.contact_delete(contact=contact)
