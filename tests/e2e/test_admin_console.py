"""An owner builds a bot, tries it and creates an API key; a reviewer reads the transcript and can't edit it."""

import json
import re

import pytest
from django.contrib.auth.models import Group
from playwright.sync_api import expect

from bots.models import Bot
from bots.tests.factories import UserFactory
from sessions_app.models import ApiKey, Conversation
from sessions_app.services.owners import CONVERSATION_REVIEWER_GROUP, api_key_authenticate, bot_owner_create
from tests.e2e.conftest import PASSWORD, log_in

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.django_db(transaction=True)]

HOURS_ANSWER = "We are open from 9 to 5, Monday to Friday."
ORDER_ANSWER = "Tell me your order number and I'll look it up."


def add_intent(page, index, label, utterances, answer):
    page.click("#intents-group .add-row a")
    page.fill(f"#id_intents-{index}-label", label)
    page.fill(f"#id_intents-{index}-utterances_text", "\n".join(utterances))
    page.fill(f"#id_intents-{index}-responses", json.dumps([{"type": "text", "text": answer}]))


def test_owner_builds_tries_and_keys_a_bot_and_a_reviewer_reads_without_editing(new_page):
    owner = bot_owner_create(username="olivia", password=PASSWORD)
    reviewer = UserFactory(username="rita", password=PASSWORD, is_staff=True)
    reviewer.groups.add(Group.objects.get(name=CONVERSATION_REVIEWER_GROUP))

    # The owner logs in and creates a bot with two intents.
    page = new_page()
    log_in(page, "olivia")
    page.goto("/admin/bots/bot/add/")
    page.fill("#id_name", "Shop assistant")
    page.select_option("#id_visibility", "private")
    page.fill("#id_fallback_message", "Sorry, I didn't get that.")
    add_intent(page, 0, "opening_hours", ["When are you open?", "opening hours", "what time do you open"], HOURS_ANSWER)
    add_intent(page, 1, "order_status", ["Where is my order?", "track my order", "order status"], ORDER_ANSWER)
    page.click("input[name=_continue]")
    expect(page.locator(".messagelist .success")).to_be_visible()
    bot = Bot.objects.get(name="Shop assistant")
    assert bot.owner == owner
    assert sorted(bot.intents.values_list("label", flat=True)) == ["opening_hours", "order_status"]
    assert bot.intents.get(label="opening_hours").utterances.count() == 3

    # It tries the bot in the chat panel and gets the answer of the matching intent.
    page.click("#try-it-link")
    expect(page.locator("#try-input")).to_be_enabled()
    page.fill("#try-input", "When are you open?")
    page.click("#try-send")
    bot_turns = page.locator("#try-log .bp-turn.bot .bp-bubble")
    expect(bot_turns).to_have_count(1)
    expect(bot_turns.last).to_have_text(HOURS_ANSWER)
    expect(page.locator("#try-log .bp-turn.user .bp-meta")).to_contain_text("opening_hours")
    conversation_id = page.locator("#try-panel").get_attribute("data-conversation")
    conversation = Conversation.objects.get(pk=conversation_id)
    assert conversation.origin == "admin" and conversation.bot == bot
    assert list(conversation.messages.order_by("id").values_list("type", "text")) == [
        ("user", "When are you open?"),
        ("bot", HOURS_ANSWER),
    ]
    page.fill("#try-input", "track my order")
    page.click("#try-send")
    expect(bot_turns.last).to_have_text(ORDER_ANSWER)

    # It creates an API key: the secret is shown once and works.
    page.goto("/admin/sessions_app/apikey/add/")
    page.fill("#id_name", "Back end")
    page.click("input[name=_save]")
    secret = page.locator("#api-secret").input_value()
    assert re.fullmatch(r"sk-[A-Za-z0-9_-]{43,}", secret)
    assert api_key_authenticate(secret=secret) == owner
    page.click("text=Done")
    expect(page.locator("#result_list")).to_contain_text(ApiKey.objects.get(name="Back end").prefix)
    assert secret not in page.content()

    # A reviewer opens that conversation's transcript and finds no way to edit it.
    review = new_page()
    log_in(review, "rita")
    review.goto("/admin/sessions_app/conversation/")
    review.click(f"a[href$='/{conversation_id}/transcript/']")
    expect(review.locator("#transcript .bp-turn.user .bp-bubble").first).to_have_text("When are you open?")
    expect(review.locator("#transcript .bp-turn.bot .bp-bubble").first).to_have_text(HOURS_ANSWER)
    expect(review.locator("#transcript .bp-intents").first).to_contain_text("opening_hours")
    main = review.locator("#content-main")
    for editable in ["form", "input", "textarea", "select", "button", "text=Edit details"]:
        expect(main.locator(editable)).to_have_count(0)
    # Nor through the conversation's own page: it is view-only, without save or delete.
    review.goto(f"/admin/sessions_app/conversation/{conversation_id}/change/")
    expect(review.locator("input[name=_save]")).to_have_count(0)
    expect(review.locator(".deletelink")).to_have_count(0)
    expect(review.locator("#content-main input:not([type=hidden]), #content-main textarea")).to_have_count(0)
    # Bots are readable, not editable; API keys are not there at all.
    review.goto(f"/admin/bots/bot/{bot.pk}/change/")
    expect(review.locator("input[name=_save]")).to_have_count(0)
    expect(review.locator("#try-it-link")).to_have_count(0)
    assert review.goto("/admin/sessions_app/apikey/").status == 403
