import pytest
from django.contrib.auth.models import Group

from sessions_app.access import credentials
from sessions_app.models import ApiKey
from sessions_app.services.owners import (
    BOT_OWNER_GROUP,
    api_key_authenticate,
    api_key_create,
    api_key_revoke,
    bot_owner_create,
    owner_profile_ensure,
)

pytestmark = pytest.mark.django_db


def test_api_secret_is_stored_only_as_a_digest(owner):
    api_key, secret = api_key_create(owner=owner, name="ci")
    assert secret.startswith("sk-")
    assert len(secret) >= 3 + 43  # 32 random bytes, url-safe
    stored = ApiKey.objects.get(pk=api_key.pk)
    assert stored.digest == credentials.digest(secret)
    assert secret not in {stored.digest, stored.prefix, stored.name}
    assert secret.startswith(stored.prefix)


def test_api_secret_authenticates_its_owner_and_records_use(owner):
    api_key, secret = api_key_create(owner=owner)
    assert api_key_authenticate(secret=secret) == owner
    assert ApiKey.objects.get(pk=api_key.pk).last_used_at is not None


@pytest.mark.parametrize("presented", ["", "sk-", "sk-not-a-real-secret", "token-without-prefix"])
def test_unknown_secrets_authenticate_nobody(owner, presented):
    api_key_create(owner=owner)
    assert api_key_authenticate(secret=presented) is None


def test_revoked_secret_authenticates_nobody(owner):
    api_key, secret = api_key_create(owner=owner)
    api_key_revoke(api_key=api_key)
    assert api_key_authenticate(secret=secret) is None


def test_inactive_owner_authenticates_nobody(owner):
    _, secret = api_key_create(owner=owner)
    owner.is_active = False
    owner.save()
    assert api_key_authenticate(secret=secret) is None


def test_bot_owner_is_staff_in_the_owner_group_with_an_org_id():
    user = bot_owner_create(username="carol")
    assert user.is_staff
    assert user.groups.filter(name=BOT_OWNER_GROUP).exists()
    org_id = owner_profile_ensure(owner=user).org_id
    assert len(org_id) == 18
    assert owner_profile_ensure(owner=user).org_id == org_id


def test_groups_are_created_by_migration_with_permissions():
    owners = Group.objects.get(name="Bot owners")
    reviewers = Group.objects.get(name="Conversation reviewers")
    assert owners.permissions.filter(codename="change_bot").exists()
    assert reviewers.permissions.filter(codename="view_conversation").exists()
    assert not reviewers.permissions.exclude(codename__startswith="view_").exists()
