"""Text PostgreSQL cannot store (NUL characters, lone surrogates) is a 400 on both protocols, never a 500.

Found by the fuzz tests on PostgreSQL; here as plain tests so that both databases check them every run.
"""

import pytest

from bots.models import Bot, Dataset
from sessions_app.models import Conversation, Message
from sessions_app.services.owners import owner_profile_ensure
from sessions_app.tests.apis.einstein.conftest import EinsteinClient, begin_body
from sessions_app.tests.apis.helpers import assert_error

pytestmark = pytest.mark.django_db

# Raw JSON: "\u0000" is a NUL character once parsed, "\ud800" a surrogate without its pair.
NUL = "\\u0000"
SURROGATE = "\\ud800"


def raw_post(client, path: str, raw: str):
    return client.post(path, data=raw, content_type="application/json")


@pytest.mark.parametrize("bad", [NUL, SURROGATE])
@pytest.mark.parametrize(
    ("path", "template"),
    [
        ("/api/v1/dataset/create", '{"name": "x%sy"}'),
        ("/api/v1/dataset/create", '{"name": "ok", "meta": {"k": "x%sy"}}'),
        ("/api/v1/dataset/create", '{"name": "ok", "meta": {"x%sy": 1}}'),
        ("/api/v1/bot/create", '{"name": "ok", "meta": {"list": ["a", "%s"]}}'),
    ],
)
def test_chatbotkit_refuses_unstorable_text(owner_client, path, template, bad):
    response = raw_post(owner_client, path, template % bad)
    assert_error(response, 400, "BAD_REQUEST")
    assert not Dataset.objects.exists() and not Bot.objects.exists()


def test_meta_filters_refuse_nul_characters(owner_client):
    # (A lone surrogate cannot reach a query string: it has no UTF-8 form to percent-encode.)
    assert_error(owner_client.get("/api/v1/bot/list?meta.team=a%00b"), 400, "BAD_REQUEST", "meta.team")


@pytest.mark.parametrize("bad", [NUL, SURROGATE])
def test_a_session_message_with_unstorable_text_is_refused(anon_client, public_bot, bad):
    response = raw_post(
        anon_client,
        f"/api/v1/bot/{public_bot.pk}/session/create",
        '{"messages": [{"type": "user", "text": "BAD"}]}'.replace("BAD", bad),
    )
    assert_error(response, 400, "BAD_REQUEST")
    assert not Conversation.objects.exists() and not Message.objects.exists()


@pytest.mark.parametrize("bad", [NUL, SURROGATE])
def test_einstein_refuses_unstorable_text(api_secret, owner, bot, bad):
    client = EinsteinClient(api_secret, owner_profile_ensure(owner=owner).org_id)
    body = begin_body()
    raw = (
        '{"externalSessionKey": "%s", "forceConfig": {"endpoint": "https://example.my.salesforce.com/"}, '
        '"message": {"text": "hi BAD"}}'.replace("BAD", bad).replace("%s", body["externalSessionKey"])
    )
    response = client.post(f"/v5.0.0/bots/{bot.pk}/sessions", raw=raw)
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "BadRequestError"
    assert not Conversation.objects.exists()


def test_plain_unicode_is_kept(owner_client):
    response = owner_client.post("/api/v1/dataset/create", {"name": "Grüße 👋", "meta": {"ключ": "值"}}, format="json")
    assert response.status_code == 200
    dataset = Dataset.objects.get()
    assert dataset.name == "Grüße 👋" and dataset.meta == {"ключ": "值"}
