from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from sessions_app.access import credentials
from sessions_app.models import ApiKey
from sessions_app.services.owners import api_key_authenticate
from sessions_app.tests.factories import BotSessionFactory, ConversationFactory


def test_api_key_secret_is_shown_once_then_only_its_prefix(owner, other_owner, login_client):
    client = login_client(owner)
    response = client.post(reverse("admin:sessions_app_apikey_add"), {"name": "CI", "owner": other_owner.pk})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    secret = response.context["secret"]
    assert secret.startswith("sk-") and secret in response.content.decode()
    api_key = ApiKey.objects.get(name="CI")
    assert api_key.owner == owner
    assert api_key.digest == credentials.digest(secret)
    assert api_key_authenticate(secret=secret) == owner
    for page in [
        reverse("admin:sessions_app_apikey_changelist"),
        reverse("admin:sessions_app_apikey_change", args=[api_key.pk]),
    ]:
        content = client.get(page).content.decode()
        assert secret not in content and api_key.digest not in content
        assert api_key.prefix in content


def test_api_key_list_shows_the_owners_org_id(owner, login_client):
    content = login_client(owner).get(reverse("admin:sessions_app_apikey_changelist")).content.decode()
    assert owner.botportal_profile.org_id in content


def test_revoking_api_keys(world, owner, login_client):
    client = login_client(owner)
    response = client.post(
        reverse("admin:sessions_app_apikey_changelist"),
        {"action": "revoke_selected", "_selected_action": [world.mine.api_key.pk, world.theirs.api_key.pk]},
    )
    assert response.status_code == 302
    world.mine.api_key.refresh_from_db()
    world.theirs.api_key.refresh_from_db()
    assert world.mine.api_key.revoked_at is not None
    assert world.theirs.api_key.revoked_at is None


def test_session_status_filter_matches_status(owner, bot, login_client):
    now = timezone.now()
    conversation = ConversationFactory(bot=bot)
    active = BotSessionFactory(conversation=conversation, expires_at=now + timedelta(minutes=30))
    expired = BotSessionFactory(conversation=conversation, expires_at=now - timedelta(seconds=1))
    revoked = BotSessionFactory(conversation=conversation, expires_at=now + timedelta(hours=1), revoked_at=now)
    client = login_client(owner)
    url = reverse("admin:sessions_app_botsession_changelist")
    for status, session in [("active", active), ("expired", expired), ("revoked", revoked)]:
        response = client.get(url, {"status": status})
        assert [s.pk for s in response.context["cl"].result_list] == [session.pk]
        assert session.status() == status
    content = client.get(url).content.decode()
    for session in (active, expired, revoked):
        assert session.token_digest not in content


def test_session_pages_never_show_the_token_digest(owner, bot, login_client):
    session, token = BotSessionFactory.with_token(conversation=ConversationFactory(bot=bot))
    content = login_client(owner).get(
        reverse("admin:sessions_app_botsession_change", args=[session.pk])
    ).content.decode()
    assert session.token_digest not in content and token not in content
    assert "Expires at" in content


def test_sessions_are_not_added_by_hand(owner, login_client):
    assert login_client(owner).get(reverse("admin:sessions_app_botsession_add")).status_code == 403
