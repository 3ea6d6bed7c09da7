"""The registry of protocols (settings.BOTPORTAL_PROTOCOLS): one place says where each protocol lives."""

import pytest
from django.urls import resolve

from botportal.api import protocols


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/api/v1/bot/list", "chatbotkit"),
        ("/api/unknown", "chatbotkit"),
        ("/v1", "chatbotkit"),
        ("/v5.0.0", "einstein"),
        ("/v5.0.0/sessions/x", "einstein"),
        ("/status", "einstein"),
        ("/widget/x/", None),
        ("/admin/", None),
        ("/v5.0.0x", None),
    ],
)
def test_each_path_belongs_to_at_most_one_protocol(path, name):
    owners = [protocol.name for protocol in protocols.protocols() if protocol.owns(path)]
    assert owners == ([name] if name else [])
    found = protocols.protocol_for_path(path)
    assert (found.name if found else None) == name


def test_the_schema_covers_the_mounts_of_protocols_without_their_own_spec():
    assert protocols.schema_prefixes() == ("/api/v1/", "/v1/")
    assert protocols.protocol_get("einstein").spec.is_file()


def test_routes_are_mounted_from_the_registry(settings):
    assert resolve("/api/v1/bot/list").namespace == "chatbotkit"
    assert resolve("/v1/bot/list").namespace == "chatbotkit-short"
    assert resolve("/v5.0.0/sessions/x").namespace == "einstein"
    settings.BOTPORTAL_PROTOCOLS = ["sessions_app.protocols.einstein.protocol.EINSTEIN"]
    assert protocols.protocol_for_path("/api/v1/bot/list") is None
    with pytest.raises(LookupError):
        protocols.protocol_get("chatbotkit")


@pytest.mark.django_db
def test_the_widget_talks_to_the_chatbotkit_mount(client):
    from bots.tests.factories import BotFactory

    bot = BotFactory(visibility="public")
    response = client.get(f"/widget/{bot.pk}/")
    assert response.status_code == 200
    assert '"apiBase": "/api/v1"' in response.content.decode()
