"""Direct Line secrets in the admin: shown once, stored as a digest, scoped to the bot's owner, revocable."""

import pytest
from django.urls import reverse

from bots.tests.factories import BotFactory
from sessions_app.access import credentials
from sessions_app.protocols.directline.models import DirectLineSecret
from sessions_app.protocols.directline.services import directline_secret_authenticate, directline_secret_create

pytestmark = pytest.mark.django_db


def test_a_secret_is_shown_once_then_only_its_prefix(owner, dl_bot, login_client):
    client = login_client(owner)
    response = client.post(reverse("admin:directline_directlinesecret_add"), {"bot": dl_bot.pk, "name": "Shop"})
    assert response.status_code == 200, response.content
    assert "no-store" in response["Cache-Control"]
    secret = response.context["secret"]
    assert secret.startswith("dls-") and secret in response.content.decode()
    row = DirectLineSecret.objects.get(name="Shop")
    assert row.bot == dl_bot and row.digest == credentials.digest(secret)
    assert directline_secret_authenticate(secret=secret) == dl_bot
    for page in (reverse("admin:directline_directlinesecret_changelist"),
                 reverse("admin:directline_directlinesecret_change", args=[row.pk])):
        content = client.get(page).content.decode()
        assert secret not in content and row.digest not in content and row.prefix in content


def test_an_owner_sees_and_makes_secrets_for_its_own_bots_only(owner, other_owner, dl_bot, login_client):
    theirs = BotFactory(owner=other_owner)
    directline_secret_create(bot=theirs, name="Theirs")
    client = login_client(owner)
    listed = client.get(reverse("admin:directline_directlinesecret_changelist")).content.decode()
    assert "Theirs" not in listed
    refused = client.post(reverse("admin:directline_directlinesecret_add"), {"bot": theirs.pk, "name": "Sneaky"})
    assert refused.status_code == 200 and "bot" in refused.context["adminform"].form.errors
    assert not DirectLineSecret.objects.filter(name="Sneaky").exists()


def test_revoking_secrets(owner, other_owner, dl_bot, login_client):
    mine, secret = directline_secret_create(bot=dl_bot)
    theirs, _ = directline_secret_create(bot=BotFactory(owner=other_owner))
    response = login_client(owner).post(
        reverse("admin:directline_directlinesecret_changelist"),
        {"action": "revoke_selected", "_selected_action": [mine.pk, theirs.pk]},
    )
    assert response.status_code == 302
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.revoked_at is not None and theirs.revoked_at is None
    assert directline_secret_authenticate(secret=secret) is None


def test_a_direct_line_conversation_shows_its_origin_in_the_admin(owner, directline, dl_secret, login_client):
    conversation_id = directline.generate(dl_secret).json()["conversationId"]
    content = login_client(owner).get(reverse("admin:sessions_app_conversation_changelist")).content.decode()
    assert "Direct Line" in content and conversation_id in content
