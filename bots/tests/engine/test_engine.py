import json
import time

import pytest

from bots.engine import Turn, respond, stream, welcome
from bots.models import Ability, Dataset, DatasetRecord, EntityType, Intent, Skillset, Utterance, Variable

pytestmark = pytest.mark.django_db


def intent(bot, label, utterances, responses, **kwargs):
    created = Intent.objects.create(bot=bot, label=label, responses=responses, **kwargs)
    for text in utterances:
        Utterance.objects.create(intent=created, text=text)
    return created


def say(bot, text=None, *, variables=None, state=None, **kwargs):
    bot.refresh_from_db()
    return respond(Turn(bot=bot, variables=variables or {}, state=state or {}, text=text, **kwargs))


@pytest.fixture
def shop(bot):
    intent(bot, "greeting", ["hello", "hi there", "good morning"], [{"type": "text", "text": "Hello {name}!"}])
    intent(
        bot,
        "menu",
        ["what can you do", "show me the menu", "help me"],
        [
            {
                "type": "choices",
                "text": "Pick one",
                "choices": [
                    {"label": "Order status", "intent": "status"},
                    {"label": "Talk to a person", "intent": "agent"},
                ],
            }
        ],
    )
    order = Variable.objects.create(
        bot=bot, name="orderNumber", type="number", entity_type="NUMBER", prompt="Order number?"
    )
    email = Variable.objects.create(bot=bot, name="email", type="text", entity_type="EMAIL", prompt="Your email?")
    Variable.objects.create(bot=bot, name="name", type="text", default="friend")
    status = intent(
        bot,
        "status",
        ["where is my order", "track my order", "order status"],
        [{"type": "text", "text": "Order {orderNumber} for {email} has shipped."}],
    )
    status.required_variables.add(order, email)
    intent(
        bot,
        "agent",
        ["talk to a human", "speak to an agent"],
        [
            {
                "type": "escalate",
                "text": "Connecting you.",
                "targets": [{"type": "Salesforce:Core:Queue:Id", "target": "q1"}],
            }
        ],
    )
    intent(bot, "bye", ["bye", "goodbye", "see you"], [{"type": "end", "text": "Goodbye!"}])
    intent(bot, "docs", ["documentation link"], [{"type": "link", "text": "Docs", "url": "https://example.com/{name}"}])
    return bot


def test_welcome_messages(shop):
    shop.welcome_messages = ["Hi {name}!", {"type": "text", "text": "Ask me anything."}]
    shop.save()
    reply = welcome(Turn(bot=shop, variables={}, state={}))
    assert [m["text"] for m in reply.messages] == ["Hi friend!", "Ask me anything."]


def test_exact_match_is_direct_with_full_confidence(shop):
    reply = say(shop, "Hello!", variables={"name": "Ann"})
    assert reply.intents[0].label == "greeting"
    assert (reply.intents[0].confidence, reply.intents[0].source) == (1.0, "DIRECT")
    assert reply.messages == [{"type": "text", "text": "Hello Ann!"}]


def test_classifier_reports_calibrated_core_nlp_intents(shop):
    reply = say(shop, "could you track the order I placed")
    assert reply.intents[0].label == "status"
    assert reply.intents[0].source == "CORE_NLP"
    assert all(0.0 <= i.confidence <= 1.0 for i in reply.intents)
    assert [i.confidence for i in reply.intents] == sorted((i.confidence for i in reply.intents), reverse=True)
    json.dumps([i.confidence for i in reply.intents])  # plain floats, ready for any protocol


def test_substitution_is_plain_text_only(shop):
    reply = say(shop, "hello", variables={"name": "{orderNumber} {__class__} %(x)s"})
    assert reply.messages[0]["text"] == "Hello {orderNumber} {__class__} %(x)s!"


def test_choices_have_stable_ids_and_are_remembered(shop):
    first = say(shop, "show me the menu")
    second = say(shop, "show me the menu")
    choices = first.messages[0]["choices"]
    assert first.messages[0]["type"] == "choices" and len(choices) == 2
    assert [c["id"] for c in choices] == [c["id"] for c in second.messages[0]["choices"]]
    assert [c["label"] for c in first.state["choices"]] == ["Order status", "Talk to a person"]
    by_id = say(shop, None, state=first.state, choice_id=choices[1]["id"])
    assert by_id.messages[0]["type"] == "escalate" and by_id.escalated
    by_label = say(shop, "talk to a PERSON", state=first.state)
    assert by_label.messages[0]["type"] == "escalate"
    by_index = say(shop, None, state=first.state, choice_index=2)
    assert by_index.intents[0].label == "agent"


def test_escalate_end_and_link_messages(shop):
    escalated = say(shop, "talk to a human")
    assert escalated.messages == [
        {
            "type": "escalate",
            "text": "Connecting you.",
            "targets": [{"type": "Salesforce:Core:Queue:Id", "target": "q1"}],
        }
    ]
    ended = say(shop, "goodbye")
    assert ended.ended and ended.messages == [{"type": "end", "text": "Goodbye!"}]
    link = say(shop, "documentation link")
    assert link.messages == [{"type": "link", "text": "Docs", "url": "https://example.com/friend"}]


def test_slot_filling_asks_in_order_then_answers(shop):
    asked = say(shop, "where is my order")
    assert asked.messages == [{"type": "text", "text": "Order number?"}]
    assert asked.state["pending"]["variable"] == "orderNumber"
    again = say(shop, "I don't know", state=asked.state)
    assert again.messages == [{"type": "text", "text": "Order number?"}]
    email = say(shop, "it is 100234", state=again.state, variables=again.variables)
    assert email.variables["orderNumber"] == 100234 and "orderNumber" in email.changed_variables
    assert email.messages == [{"type": "text", "text": "Your email?"}]
    done = say(shop, "ann@example.com", state=email.state, variables=email.variables)
    assert done.messages == [{"type": "text", "text": "Order 100234 for ann@example.com has shipped."}]
    assert "pending" not in done.state


def test_slots_filled_from_the_first_message(shop):
    reply = say(shop, "track my order 555123 for bob@example.com")
    assert reply.messages == [{"type": "text", "text": "Order 555123 for bob@example.com has shipped."}]


def test_changing_the_subject_leaves_slot_filling(shop):
    asked = say(shop, "where is my order")
    reply = say(shop, "goodbye", state=asked.state)
    assert reply.ended


def test_fallback_message_when_nothing_matches(shop):
    reply = say(shop, "qwzx blorf")
    assert reply.messages == [{"type": "text", "text": shop.fallback_message}]


def test_dataset_answers_with_its_source_when_no_intent_matches(shop, owner):
    dataset = Dataset.objects.create(owner=owner, name="FAQ")
    DatasetRecord.objects.create(dataset=dataset, text="Gift cards never expire.", source="https://example.com/gift")
    DatasetRecord.objects.create(dataset=dataset, text="Stores open at nine.", source="")
    shop.dataset = dataset
    shop.save()
    reply = say(shop, "do gift cards expire?")
    assert reply.messages == [
        {"type": "text", "text": "Gift cards never expire."},
        {"type": "link", "text": "https://example.com/gift", "url": "https://example.com/gift"},
    ]


def test_custom_entity_fills_a_variable(shop):
    EntityType.objects.create(bot=shop, name="speed", values=[{"value": "express", "synonyms": ["fast"]}])
    speed = Variable.objects.create(bot=shop, name="speed", entity_type="speed", prompt="Which speed?")
    ship = intent(shop, "ship", ["ship my parcel"], [{"type": "text", "text": "Shipping {speed}."}])
    ship.required_variables.add(speed)
    asked = say(shop, "ship my parcel")
    reply = say(shop, "fast please", state=asked.state)
    assert reply.messages == [{"type": "text", "text": "Shipping express."}]
    assert [(e.type, e.value) for e in reply.entities] == [("speed", "express")]


def test_abilities_set_variable_escalate_and_end(shop, owner):
    skillset = Skillset.objects.create(owner=owner)
    setter = Ability.objects.create(skillset=skillset, kind="set_variable", config={"name": "name", "value": "VIP"})
    intent(shop, "vip", ["make me vip"], [{"type": "text", "text": "Done, {name}."}], ability=setter)
    reply = say(shop, "make me vip")
    assert reply.messages == [{"type": "text", "text": "Done, VIP."}] and reply.variables["name"] == "VIP"
    escalate = Ability.objects.create(
        skillset=skillset, kind="escalate", config={"targets": ["tier2"], "text": "Hold on."}
    )
    intent(shop, "complain", ["I want to complain"], [], ability=escalate)
    assert say(shop, "I want to complain").messages == [
        {"type": "escalate", "text": "Hold on.", "targets": [{"type": "Salesforce:Core:Queue:Id", "target": "tier2"}]}
    ]
    end = Ability.objects.create(skillset=skillset, kind="end", config={"text": "Closing."})
    intent(shop, "close", ["close the chat"], [{"type": "text", "text": "never sent"}], ability=end)
    closed = say(shop, "close the chat")
    assert closed.ended and closed.messages == [{"type": "end", "text": "Closing."}]


def test_webhook_ability_answers_with_its_reply(shop, owner, local_server, settings):
    settings.BOTPORTAL = {**settings.BOTPORTAL, "WEBHOOK_ALLOW_PRIVATE": True}
    url, requests = local_server(
        lambda path, body: (
            200,
            {"Content-Type": "application/json"},
            [json.dumps({"text": "Status: shipped", "variables": {"name": "Zed"}}).encode()],
        )
    )
    skillset = Skillset.objects.create(owner=owner)
    hook = Ability.objects.create(
        skillset=skillset, kind="webhook", config={"url": url + "/hook", "headers": {"X-Key": "k"}}
    )
    intent(shop, "lookup", ["look it up"], [{"type": "text", "text": "Bye {name}."}], ability=hook)
    reply = say(shop, "look it up", variables={"name": "Ann"})
    assert reply.messages == [{"type": "text", "text": "Status: shipped"}, {"type": "text", "text": "Bye Zed."}]
    assert requests[0]["path"] == "/hook" and requests[0]["body"]["variables"]["name"] == "Ann"
    assert requests[0]["headers"]["X-Key"] == "k"


def test_webhook_refuses_private_addresses_and_plain_http(shop, owner, local_server, settings):
    url, requests = local_server(lambda path, body: (200, {}, [b"{}"]))
    skillset = Skillset.objects.create(owner=owner)
    hook = Ability.objects.create(
        skillset=skillset, kind="webhook", config={"url": url, "error_message": "Unavailable."}
    )
    intent(shop, "lookup", ["look it up"], [], ability=hook)
    assert say(shop, "look it up").messages == [{"type": "text", "text": "Unavailable."}]
    assert requests == []

    from bots.engine.webhook import WebhookError, resolve

    for bad in (
        "https://127.0.0.1/x",
        "https://[::1]/x",
        "https://169.254.169.254/latest",
        "https://10.0.0.1/",
        "ftp://example.com/",
    ):
        with pytest.raises(WebhookError):
            resolve(bad)
    settings.BOTPORTAL = {**settings.BOTPORTAL, "WEBHOOK_ALLOW_PRIVATE": True}
    with pytest.raises(WebhookError):
        resolve("http://93.184.215.14/")  # a public address must use HTTPS


def test_webhook_reply_size_cap(shop, owner, local_server, settings):
    settings.BOTPORTAL = {**settings.BOTPORTAL, "WEBHOOK_ALLOW_PRIVATE": True, "WEBHOOK_MAX_BYTES": 100}
    url, _ = local_server(lambda path, body: (200, {}, [json.dumps({"text": "x" * 500}).encode()]))
    skillset = Skillset.objects.create(owner=owner)
    hook = Ability.objects.create(skillset=skillset, kind="webhook", config={"url": url, "error_message": "Too big."})
    intent(shop, "lookup", ["look it up"], [], ability=hook)
    assert say(shop, "look it up").messages == [{"type": "text", "text": "Too big."}]


def test_language_model_streams_tokens(shop, local_server, settings):
    def chat(path, body):
        events = [
            b'data: {"choices": [{"delta": {"content": "Gift "}}]}\n\n',
            b'data: {"choices": [{"delta": {"content": "cards rock."}}]}\n\n',
            b"data: [DONE]\n\n",
        ]
        return 200, {"Content-Type": "text/event-stream"}, events

    url, requests = local_server(chat)
    settings.BOTPORTAL = {**settings.BOTPORTAL, "LLM_PROVIDERS": {"local": {"base_url": url + "/v1", "api_key": "k1"}}}
    shop.model = "local/tiny"
    shop.backstory = "You sell gift cards."
    shop.save()
    pieces = list(
        stream(Turn(bot=shop, variables={}, state={}, text="tell me about gift cards", history=(("user", "hi"),)))
    )
    assert pieces[:2] == ["Gift ", "cards rock."]
    assert pieces[-1].messages == [{"type": "text", "text": "Gift cards rock."}]
    sent = requests[0]
    assert sent["path"] == "/v1/chat/completions" and sent["headers"]["Authorization"] == "Bearer k1"
    assert sent["body"]["model"] == "tiny" and sent["body"]["stream"] is True
    assert sent["body"]["messages"][0]["content"].startswith("You sell gift cards.")
    assert sent["body"]["messages"][-1] == {"role": "user", "content": "tell me about gift cards"}
    # An intent the bot knows is still answered by the built-in engine.
    assert say(shop, "hello").messages == [{"type": "text", "text": "Hello friend!"}]


def test_stream_without_a_model_yields_the_reply_text(shop):
    pieces = list(stream(Turn(bot=shop, variables={}, state={}, text="hello")))
    assert "".join(pieces[:-1]) == "Hello friend!" and pieces[-1].text == "Hello friend!"


def test_definition_change_bumps_version_and_retrains(shop):
    shop.refresh_from_db()
    before = shop.version
    assert say(shop, "ahoy matey").intents == [] or say(shop, "ahoy matey").intents[0].source == "CORE_NLP"
    Utterance.objects.create(intent=Intent.objects.get(bot=shop, label="greeting"), text="ahoy matey")
    shop.refresh_from_db()
    assert shop.version > before
    reply = say(shop, "ahoy matey")
    assert reply.intents[0].label == "greeting" and reply.intents[0].source == "DIRECT"
    version = shop.version
    Variable.objects.create(bot=shop, name="extra")
    EntityType.objects.create(bot=shop, name="colour", values=[{"value": "red"}])
    shop.refresh_from_db()
    assert shop.version == version + 2


def test_a_choice_not_on_offer_gets_the_fallback_and_keeps_the_offer(shop):
    menu = say(shop, "show me the menu")
    reply = say(shop, None, state=menu.state, choice_id="not-offered")
    assert reply.messages == [{"type": "text", "text": shop.fallback_message}]
    assert reply.state["choices"] == menu.state["choices"]


@pytest.mark.parametrize(
    ("status", "body"),
    [(500, b'{"text": "boom"}'), (200, b"not json"), (200, b"[1, 2]")],
)
def test_webhook_failures_answer_the_error_message(shop, owner, local_server, settings, status, body):
    settings.BOTPORTAL = {**settings.BOTPORTAL, "WEBHOOK_ALLOW_PRIVATE": True}
    url, requests = local_server(lambda path, _: (status, {"Content-Type": "application/json"}, [body]))
    skillset = Skillset.objects.create(owner=owner)
    hook = Ability.objects.create(skillset=skillset, kind="webhook", config={"url": url, "error_message": "Try later."})
    intent(shop, "lookup", ["look it up"], [{"type": "text", "text": "after"}], ability=hook)
    reply = say(shop, "look it up")
    assert reply.messages == [{"type": "text", "text": "Try later."}, {"type": "text", "text": "after"}]
    assert len(requests) == 1


def test_detect_entities_without_answering(shop):
    from bots.engine import detect_entities

    found = detect_entities(Turn(bot=shop, variables={}, state={}, text="mail ann@example.com about $5"))
    assert [(e.type, e.value) for e in found] == [("EMAIL", "ann@example.com"), ("MONEY", "USD 5.00")]


def test_conversation_dataset_overrides_the_bots(shop, owner):
    bots_own = Dataset.objects.create(owner=owner)
    DatasetRecord.objects.create(dataset=bots_own, text="Old answer about parking.")
    bound = Dataset.objects.create(owner=owner)
    DatasetRecord.objects.create(dataset=bound, text="New answer about parking.")
    shop.dataset = bots_own
    shop.save()
    assert say(shop, "parking?").messages[0]["text"] == "Old answer about parking."
    assert say(shop, "parking?", dataset_id=bound.pk).messages[0]["text"] == "New answer about parking."


def test_slots_of_other_types_are_read_from_the_whole_answer(shop):
    gift = Variable.objects.create(bot=shop, name="gift", type="boolean", prompt="Is it a gift?")
    when = Variable.objects.create(bot=shop, name="when", type="date", entity_type="DATE", prompt="When?")
    wrap = intent(shop, "wrap", ["wrap my present"], [{"type": "text", "text": "Gift: {gift}, on {when}."}])
    wrap.required_variables.add(gift, when)
    asked = say(shop, "wrap my present")
    assert asked.messages[0]["text"] == "Is it a gift?"
    answered = say(shop, "yes", state=asked.state)
    assert answered.variables["gift"] is True and answered.messages[0]["text"] == "When?"
    done = say(shop, "on 2026-12-24 please", state=answered.state, variables=answered.variables)
    assert done.messages == [{"type": "text", "text": "Gift: yes, on 2026-12-24."}]


def test_reply_text_for_single_text_protocols(shop):
    menu = say(shop, "show me the menu")
    assert menu.text == "Pick one"
    assert say(shop, "2", state=menu.state).intents[0].label == "agent"
    assert say(shop, "documentation link").text == "Docs: https://example.com/friend"


def test_a_webhook_that_redirects_is_not_followed(shop, owner, local_server, settings):
    settings.BOTPORTAL = {**settings.BOTPORTAL, "WEBHOOK_ALLOW_PRIVATE": True}
    target, reached = local_server(lambda path, body: (200, {}, [b'{"text": "followed"}']))
    url, requests = local_server(lambda path, body: (307, {"Location": target + "/elsewhere"}, [b""]))
    skillset = Skillset.objects.create(owner=owner)
    hook = Ability.objects.create(skillset=skillset, kind="webhook", config={"url": url, "error_message": "No."})
    intent(shop, "lookup", ["look it up"], [], ability=hook)
    assert say(shop, "look it up").messages == [{"type": "text", "text": "No."}]
    assert len(requests) == 1 and reached == []


def test_a_webhook_that_never_answers_fails_within_its_one_deadline(shop, owner, local_server, settings):
    settings.BOTPORTAL = {**settings.BOTPORTAL, "WEBHOOK_ALLOW_PRIVATE": True, "WEBHOOK_TIMEOUT": 0.5}

    def trickle(path, body):
        # Headers at once, then a byte every 0.2 s: each read is quick, the whole answer never ends.
        return 200, {"Content-Type": "application/json"}, (time.sleep(0.2) or b" " for _ in range(50))

    url, _ = local_server(trickle)
    skillset = Skillset.objects.create(owner=owner)
    hook = Ability.objects.create(skillset=skillset, kind="webhook", config={"url": url, "error_message": "Late."})
    intent(shop, "lookup", ["look it up"], [], ability=hook)
    started = time.monotonic()
    assert say(shop, "look it up").messages == [{"type": "text", "text": "Late."}]
    assert time.monotonic() - started < 3


def test_a_webhook_connects_to_the_address_it_checked(shop, owner, local_server, settings, monkeypatch):
    from bots.engine import webhook

    settings.BOTPORTAL = {**settings.BOTPORTAL, "WEBHOOK_ALLOW_PRIVATE": True}
    url, requests = local_server(lambda path, body: (200, {}, [b'{"text": "pinned"}']))
    port = url.rsplit(":", 1)[1]
    resolved = []

    def resolve_once(checked_url):
        resolved.append(checked_url)
        return "http", "hooks.example", int(port), "/x", "127.0.0.1"

    monkeypatch.setattr(webhook, "resolve", resolve_once)
    skillset = Skillset.objects.create(owner=owner)
    hook = Ability.objects.create(skillset=skillset, kind="webhook", config={"url": f"http://hooks.example:{port}/x"})
    intent(shop, "lookup", ["look it up"], [], ability=hook)
    assert say(shop, "look it up").messages == [{"type": "text", "text": "pinned"}]
    # The name was resolved once (by the check) and never again: the request went to that address,
    # with the name as its Host.
    assert len(resolved) == 1
    assert requests[0]["headers"]["Host"] == f"hooks.example:{port}"
