import pytest

from botportal.errors import Conflict, InvalidInput
from sessions_app.models import Contact
from sessions_app.services.owner_contacts import contact_create, contact_ensure, contact_update

pytestmark = pytest.mark.django_db


def test_create_normalises_and_refuses_duplicates(owner, other_owner):
    contact = contact_create(owner=owner, fields={"email": "A@B.example.com", "phone": "+44 20 7946 0958"})
    assert contact.email == "a@b.example.com" and contact.phone == "+442079460958" and contact.fingerprint
    with pytest.raises(Conflict):
        contact_create(owner=owner, fields={"email": "a@B.example.com"})
    with pytest.raises(Conflict):
        contact_create(owner=owner, fields={"phone": "+442079460958"})
    assert contact_create(owner=other_owner, fields={"email": "a@b.example.com"}).pk != contact.pk


def test_every_invalid_field_is_named(owner):
    with pytest.raises(InvalidInput) as raised:
        contact_create(owner=owner, fields={"email": "x", "phone": "1", "meta": {"_a": 1}})
    assert set(raised.value.fields) == {"email", "phone", "meta"}
    assert not Contact.objects.exists()


def test_ensure_creates_then_updates(owner):
    first = contact_ensure(owner=owner, fields={"fingerprint": "fp-1", "name": "Ann"})
    second = contact_ensure(owner=owner, fields={"fingerprint": "fp-1", "nick": "annie"})
    assert first.pk == second.pk
    second.refresh_from_db()
    assert second.name == "Ann" and second.nick == "annie"


def test_update_to_another_contacts_email_conflicts(owner):
    contact_create(owner=owner, fields={"email": "one@example.com"})
    other = contact_create(owner=owner, fields={"email": "two@example.com"})
    with pytest.raises(Conflict):
        contact_update(contact=other, fields={"email": "ONE@example.com"})
    other.refresh_from_db()
    assert other.email == "two@example.com"
