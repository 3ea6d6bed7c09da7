import secrets
import string

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.utils import timezone

from sessions_app.access import credentials
from sessions_app.models import ApiKey, OwnerProfile
from sessions_app.selectors.api_keys import api_key_active_by_digest

BOT_OWNER_GROUP = "Bot owners"
CONVERSATION_REVIEWER_GROUP = "Conversation reviewers"

_ORG_ID_ALPHABET = string.ascii_uppercase + string.digits


def _new_org_id() -> str:
    # Shaped like the 18-character organization ids Einstein clients send in X-Org-Id.
    return "00D" + "".join(secrets.choice(_ORG_ID_ALPHABET) for _ in range(15))


def owner_profile_ensure(*, owner) -> OwnerProfile:
    """The owner's profile, created with a fresh org id the first time it is needed."""
    try:
        return owner.botportal_profile
    except OwnerProfile.DoesNotExist:
        pass
    for _ in range(5):
        try:
            with transaction.atomic():
                return OwnerProfile.objects.create(owner=owner, org_id=_new_org_id())
        except IntegrityError:
            existing = OwnerProfile.objects.filter(owner=owner).first()
            if existing is not None:
                return existing
    raise RuntimeError("could not allocate a unique org id")


@transaction.atomic
def bot_owner_create(*, username: str, password: str | None = None, email: str = ""):
    """A staff user in the bot-owner group, with its org id."""
    user = get_user_model().objects.create_user(username=username, email=email, password=password, is_staff=True)
    group, _ = Group.objects.get_or_create(name=BOT_OWNER_GROUP)
    user.groups.add(group)
    owner_profile_ensure(owner=user)
    return user


def api_key_create(*, owner, name: str = "") -> tuple[ApiKey, str]:
    """Create an API secret for the owner. The secret is returned once and stored only as a digest."""
    secret = credentials.new_api_secret()
    api_key = ApiKey.objects.create(
        owner=owner,
        name=name,
        prefix=secret[: credentials.DISPLAY_PREFIX_LENGTH],
        digest=credentials.digest(secret),
    )
    return api_key, secret


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    return api_key


def api_key_authenticate(*, secret: str):
    """The owner of an active API secret, or None. One indexed lookup by digest; records the use."""
    if not credentials.is_api_secret(secret):
        return None
    # The owner's profile too (its org id, which the Einstein runtime checks): no query of its own.
    api_key = api_key_active_by_digest(digest=credentials.digest(secret))
    if api_key is None or not credentials.digests_match(api_key.digest, secret):
        return None
    now = timezone.now()
    if credentials.last_use_due(api_key.last_used_at, now):
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
    return api_key.owner
