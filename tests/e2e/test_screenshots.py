"""Screenshots of the dashboard and a transcript, for the README.

`make screenshots` runs this with BOTPORTAL_SCREENSHOTS_DIR=docs/screenshots to refresh the committed
images; in the normal test run they go to a temporary folder and are only checked.
"""

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from bots.tests.factories import BotFactory, IntentFactory
from sessions_app.models import Conversation, Message
from sessions_app.services.owners import bot_owner_create
from sessions_app.tests.factories import BotSessionFactory, ContactFactory
from tests.e2e.conftest import PASSWORD, log_in

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.django_db(transaction=True)]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def seed(owner):
    now = timezone.now()
    shop = BotFactory(owner=owner, name="Shop assistant", visibility="public")
    helpdesk = BotFactory(owner=owner, name="IT helpdesk", visibility="private")
    for label in ("order_status", "opening_hours", "returns"):
        IntentFactory(bot=shop, label=label)
    rows = []
    for days_ago in range(30):
        day = now - timedelta(days=days_ago)
        # A weekly rhythm with a trend, so the chart has a shape.
        for _ in range(3 + (days_ago * 7) % 5 + (30 - days_ago) // 6):
            rows.append(Conversation(owner=owner, bot=shop, origin="chatbotkit", created_at=day))
        for _ in range((days_ago * 3) % 4):
            rows.append(Conversation(owner=owner, bot=helpdesk, origin="einstein", created_at=day))
    Conversation.objects.bulk_create(rows)
    for conversation in rows[:3]:
        BotSessionFactory(conversation=conversation, expires_at=now + timedelta(minutes=40))

    ada = ContactFactory(owner=owner, name="Ada Lovelace", email="ada@example.com")
    started = now - timedelta(minutes=12)
    conversation = Conversation.objects.create(
        owner=owner,
        bot=shop,
        bot_version=shop.version,
        contact=ada,
        origin="chatbotkit",
        created_at=started,
        variables={"order_number": "A-1042", "email": "ada@example.com"},
        ended_at=now - timedelta(minutes=3),
        end_reason="UserRequest",
    )
    turns = [
        ("bot", "Hi! I'm the shop assistant. How can I help?", {}),
        (
            "user",
            "Where is my order A-1042?",
            {
                "intents": [{"label": "order_status", "confidence": 0.94, "source": "CORE_NLP"}],
                "entities": [{"type": "order_number", "value": "A-1042", "text": "A-1042", "confidence": 1.0}],
            },
        ),
        ("bot", "Order A-1042 left our warehouse yesterday and arrives on Tuesday.", {}),
        (
            "user",
            "Can I still return it if it doesn't fit?",
            {"intents": [{"label": "returns", "confidence": 0.88, "source": "CORE_NLP"}], "entities": []},
        ),
        (
            "bot",
            "Yes: you have 30 days to return it. Shall I email you a return label?",
            {"messages": [{"type": "choices", "text": "", "choices": [{"label": "Yes"}, {"label": "No"}]}]},
        ),
        ("user", "Yes please", {"intents": [{"label": "Yes", "confidence": 1.0, "source": "DIRECT"}]}),
        ("bot", "Done: the label is on its way to ada@example.com.", {}),
    ]
    Message.objects.bulk_create(
        Message(conversation=conversation, type=kind, text=text, meta=meta, created_at=at)
        for (kind, text, meta), at in zip(turns, (started + timedelta(seconds=40 * i) for i in range(99)), strict=False)
    )
    ended = now - timedelta(minutes=3)
    BotSessionFactory(conversation=conversation, expires_at=now + timedelta(minutes=18), revoked_at=ended)
    return conversation


def test_dashboard_and_transcript_screenshots(new_page, tmp_path):
    out = Path(os.environ.get("BOTPORTAL_SCREENSHOTS_DIR") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    owner = bot_owner_create(username="olivia", password=PASSWORD)
    conversation = seed(owner)

    page = new_page()
    log_in(page, "olivia")
    page.goto("/admin/")
    assert page.locator(".bp-bot-row").count() == 2
    page.screenshot(path=out / "dashboard.png", full_page=True)
    page.goto(f"/admin/sessions_app/conversation/{conversation.pk}/transcript/")
    assert page.locator("#transcript .bp-turn").count() == 7
    page.screenshot(path=out / "transcript.png", full_page=True)

    for name in ("dashboard.png", "transcript.png"):
        data = (out / name).read_bytes()
        assert data.startswith(PNG_SIGNATURE) and len(data) > 10_000
