"""The chat widget in a real browser: Debian's Chromium driven by Playwright.

botportal runs in a live server on 127.0.0.1; the pages that embed the snippet are served by a tiny
HTTP server on `localhost` (another origin, another site), one port allowed by the bot, one not.
Set BOTPORTAL_SCREENSHOTS to a folder (docs/screenshots) to save the README's screenshot.
"""

import contextlib
import http.server
import os
import re
import socket
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.cache import cache
from django.utils import timezone
from playwright import sync_api as playwright_sync

from bots.models import Bot, Intent, Utterance
from sessions_app.models import BotSession, Conversation

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.django_db(transaction=True)]

PORTS = range(8700, 8800)
TIMEOUT_MS = 10_000

QUESTION = "What are your opening hours?"
ANSWER = "We are open from nine to five, Monday to Friday, and on Saturday mornings."


def free_port(exclude=()) -> int:
    for port in PORTS:
        if port in exclude:
            continue
        with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 8700-8799")


class HostPages(http.server.ThreadingHTTPServer):
    """Serves `pages` (path -> html) the way a bot owner's own web site would."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int):
        self.pages: dict[str, str] = {}
        super().__init__(("127.0.0.1", port), _HostPageHandler)


class _HostPageHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        body = self.server.pages.get(self.path.split("?")[0])
        if body is None:
            self.send_error(404)
            return
        payload = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


def start_host(port: int) -> HostPages:
    server = HostPages(port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def botportal_server(django_db_setup, django_db_blocker):
    from pytest_django.live_server_helper import LiveServer

    with django_db_blocker.unblock():
        server = LiveServer(f"127.0.0.1:{free_port()}")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def hosts(botportal_server):
    taken = {botportal_server.thread.port}
    allowed = start_host(free_port(exclude=taken))
    taken.add(allowed.server_port)
    other = start_host(free_port(exclude=taken))
    yield {"allowed": allowed, "other": other}
    for server in (allowed, other):
        server.shutdown()
        server.server_close()


def origin_of(server: HostPages) -> str:
    return f"http://localhost:{server.server_port}"


@pytest.fixture
def browser_context(browser):
    cache.clear()  # the throttles count per IP across tests
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(TIMEOUT_MS)
    yield context
    context.close()


def make_bot(owner, *, allowed_origins, meta=None) -> Bot:
    bot = Bot.objects.create(
        owner=owner,
        name="Demo shop assistant",
        visibility="public",
        allowed_origins=allowed_origins,
        meta=meta or {},
        welcome_messages=["Hi! I'm the Demo shop assistant. Ask me anything about the shop."],
        fallback_message="Sorry, I didn't get that. Try asking about our opening hours.",
    )
    intents = {
        "hours": (
            [QUESTION, "When are you open?"],
            [
                {"type": "text", "text": ANSWER},
                {
                    "type": "choices",
                    "text": "Anything else?",
                    "choices": [
                        {"label": "Show me the map", "intent": "map"},
                        {"label": "Talk to a person", "intent": "human"},
                        {"label": "That's all", "intent": "bye"},
                    ],
                },
            ],
        ),
        "map": (["Where is the shop?"], [{"type": "link", "text": "Our shop on the map", "url": "https://maps.example/shop"}]),
        "human": (["I want to talk to a person"], [{"type": "escalate", "text": "Connecting you with a person."}]),
        "bye": (["Goodbye"], [{"type": "end", "text": "Thanks for chatting. Goodbye!"}]),
    }
    for label, (utterances, responses) in intents.items():
        intent = Intent.objects.create(bot=bot, label=label, responses=responses)
        Utterance.objects.bulk_create(Utterance(intent=intent, text=text) for text in utterances)
    return bot


def embed(server: HostPages, botportal_url: str, bot: Bot, path: str = "/") -> str:
    server.pages[path] = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Demo shop</title>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'></head>"
        "<body><h1>Demo shop</h1><p>Everything for your garden.</p>"
        f'<script src="{botportal_url}/static/botportal/widget.js" data-bot="{bot.pk}" async></script>'
        "</body></html>"
    )
    return origin_of(server) + path


def open_widget(page):
    launcher = page.get_by_role("button", name="Chat with us")
    launcher.click()
    frame = page.frame_locator("iframe[title='Chat']")
    frame.get_by_role("textbox", name="Your message").wait_for()
    return frame


def widget_on_the_allowed_host(browser_context, botportal_server, hosts, owner):
    """(bot, page, frame): a new bot that allows hosts["allowed"], its widget opened on a page there."""
    bot = make_bot(owner, allowed_origins=[origin_of(hosts["allowed"])])
    page = browser_context.new_page()
    page.goto(embed(hosts["allowed"], botportal_server.url, bot))
    return bot, page, open_widget(page)


def ask(frame, text):
    box = frame.get_by_role("textbox", name="Your message")
    playwright_sync.expect(box).to_be_enabled()
    box.fill(text)
    box.press("Enter")


def bot_messages(frame):
    return frame.locator(".bp-bot .bp-text, .bp-link a")


def record_streaming(page):
    """Every text the streaming bubble showed, in order (recorded per change, not per repaint)."""
    frame = next(f for f in page.frames if "/widget/" in f.url)
    frame.evaluate(
        """() => {
          window.__partials = [];
          new MutationObserver((records) => {
            for (const record of records) {
              const bubble = record.target.closest && record.target.closest('.bp-streaming');
              if (bubble && record.addedNodes.length) {
                window.__partials.push(Array.from(record.addedNodes, (node) => node.textContent).join(''));
              }
            }
          }).observe(document.getElementById('bp-log'), {subtree: true, childList: true, characterData: true});
        }"""
    )
    return lambda: frame.evaluate("() => window.__partials")


def no_errors(frame):
    playwright_sync.expect(frame.locator(".bp-notice-error")).to_have_count(0)


def test_visitor_converses_through_the_embedded_widget(browser_context, botportal_server, hosts, owner):
    expect = playwright_sync.expect
    allowed = hosts["allowed"]
    bot = make_bot(owner, allowed_origins=[origin_of(allowed)])
    page = browser_context.new_page()
    streamed_types = []
    page.on(
        "response",
        lambda response: response.url.endswith("/complete")
        and streamed_types.append(response.headers.get("content-type")),
    )

    page.goto(embed(allowed, botportal_server.url, bot))
    frame = open_widget(page)

    expect(frame.get_by_role("log")).to_contain_text("Hi! I'm the Demo shop assistant.")
    expect(page.get_by_role("button", name="Close chat")).to_have_attribute("aria-expanded", "true")

    partials = record_streaming(page)
    ask(frame, QUESTION)
    expect(frame.locator(".bp-user .bp-text").last).to_have_text(QUESTION)
    expect(frame.get_by_role("log")).to_contain_text(ANSWER)
    seen = [text for text in partials() if text]
    assert len(set(seen)) >= 3, seen  # the answer grew piece by piece
    assert all(ANSWER.startswith(text) or (ANSWER + "\n\nAnything else?").startswith(text) for text in seen)
    assert streamed_types and streamed_types[0].startswith("application/jsonl")
    expect(frame.locator(".bp-streaming")).to_have_count(0)

    choices = frame.get_by_role("group", name="Anything else?")
    expect(choices.get_by_role("button")).to_have_count(3)
    choices.get_by_role("button", name="Show me the map").click()
    link = frame.get_by_role("link", name="Our shop on the map")
    expect(link).to_have_attribute("href", "https://maps.example/shop")
    expect(link).to_have_attribute("target", "_blank")
    expect(choices.get_by_role("button", name="Show me the map")).to_be_disabled()
    expect(frame.locator(".bp-user .bp-text").last).to_have_text("Show me the map")

    if os.environ.get("BOTPORTAL_SCREENSHOTS"):
        folder = Path(os.environ["BOTPORTAL_SCREENSHOTS"])
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / "widget.png"))

    conversation = Conversation.objects.get(bot=bot)
    stored = list(conversation.messages.order_by("id").values_list("type", "text"))[1:]
    assert stored[:3] == [("user", QUESTION), ("bot", ANSWER + "\n\nAnything else?"), ("user", "Show me the map")]
    assert stored[3][0] == "bot" and stored[3][1].startswith("Our shop on the map")
    assert len(stored) == 4

    # A reload in the same tab: the widget reopens on the same conversation with its history.
    page.reload()
    frame = page.frame_locator("iframe[title='Chat']")
    log = frame.get_by_role("log")
    expect(log).to_contain_text("Our shop on the map")
    expect(frame.locator(".bp-user .bp-text")).to_have_text([QUESTION, "Show me the map"])
    expect(frame.get_by_role("link", name="Our shop on the map")).to_be_visible()
    assert Conversation.objects.filter(bot=bot).count() == 1
    no_errors(frame)

    # The token expires: the next visit starts a new conversation by itself and says so.
    BotSession.objects.filter(conversation=conversation).update(expires_at=timezone.now() - timedelta(seconds=1))
    page.reload()
    frame = page.frame_locator("iframe[title='Chat']")
    expect(frame.locator(".bp-notice-info")).to_contain_text("previous session expired")
    expect(frame.get_by_role("log")).to_contain_text("Hi! I'm the Demo shop assistant.")
    no_errors(frame)
    ask(frame, "When are you open?")
    expect(frame.get_by_role("log")).to_contain_text(ANSWER)
    no_errors(frame)
    assert Conversation.objects.filter(bot=bot).count() == 2


def test_a_token_expiring_mid_conversation_is_replaced_and_the_message_resent(
    browser_context, botportal_server, hosts, owner
):
    expect = playwright_sync.expect
    bot, page, frame = widget_on_the_allowed_host(browser_context, botportal_server, hosts, owner)
    expect(frame.get_by_role("log")).to_contain_text("Hi! I'm the Demo shop assistant.")

    BotSession.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    ask(frame, QUESTION)

    expect(frame.locator(".bp-notice-info")).to_contain_text("previous session expired")
    expect(frame.get_by_role("log")).to_contain_text(ANSWER)
    no_errors(frame)
    newest = Conversation.objects.filter(bot=bot).order_by("-created_at").first()
    assert newest.messages.filter(type="user", text=QUESTION).exists()


def test_a_token_about_to_expire_is_refreshed_and_the_conversation_kept(
    browser_context, botportal_server, hosts, owner
):
    expect = playwright_sync.expect
    bot, page, frame = widget_on_the_allowed_host(browser_context, botportal_server, hosts, owner)
    expect(frame.get_by_role("log")).to_contain_text("Hi! I'm the Demo shop assistant.")
    conversation = Conversation.objects.get(bot=bot)
    soon = timezone.now() + timedelta(minutes=1)
    BotSession.objects.filter(conversation=conversation).update(expires_at=soon)
    # The host page keeps the widget's session; make it agree with the server.
    page.evaluate(
        """(key) => {
          const state = JSON.parse(sessionStorage.getItem(key));
          state.expiresAt = Date.now() + 60000;
          sessionStorage.setItem(key, JSON.stringify(state));
        }""",
        f"botportal:widget:{bot.pk}",
    )
    refreshes = []
    page.on("request", lambda r: r.url.endswith("/session/refresh") and refreshes.append(r.url))

    page.reload()
    frame = page.frame_locator("iframe[title='Chat']")
    expect(frame.get_by_role("log")).to_contain_text("Hi! I'm the Demo shop assistant.")
    ask(frame, QUESTION)
    expect(frame.get_by_role("button", name="That's all")).to_be_enabled()

    assert len(refreshes) == 1
    expect(frame.locator(".bp-notice")).to_have_count(0)
    assert Conversation.objects.filter(bot=bot).count() == 1
    (live,) = BotSession.objects.filter(conversation=conversation, revoked_at__isnull=True)
    assert live.expires_at > soon + timedelta(minutes=30)


def test_escalation_and_end_are_shown_and_the_ended_conversation_can_be_restarted(
    browser_context, botportal_server, hosts, owner
):
    expect = playwright_sync.expect
    bot, page, frame = widget_on_the_allowed_host(browser_context, botportal_server, hosts, owner)

    ask(frame, QUESTION)
    frame.get_by_role("button", name="Talk to a person").click()
    expect(frame.locator(".bp-notice-escalate")).to_contain_text("Connecting you with a person.")

    ask(frame, QUESTION)
    expect(frame.get_by_role("button", name="That's all")).to_have_count(2)
    expect(frame.get_by_role("button", name="That's all").last).to_be_enabled()
    frame.get_by_role("button", name="That's all").last.click()
    expect(frame.get_by_role("log")).to_contain_text("Thanks for chatting. Goodbye!")
    expect(frame.locator(".bp-notice-end")).to_contain_text("This conversation has ended.")
    expect(frame.get_by_role("textbox", name="Your message")).to_be_disabled()

    frame.get_by_role("button", name="Start a new conversation").last.click()
    expect(frame.get_by_role("textbox", name="Your message")).to_be_enabled()
    ask(frame, QUESTION)
    expect(frame.get_by_role("log")).to_contain_text(ANSWER)
    no_errors(frame)
    assert Conversation.objects.filter(bot=bot).count() == 2


def test_errors_are_shown_as_messages(browser_context, botportal_server, hosts, owner):
    expect = playwright_sync.expect
    bot, page, frame = widget_on_the_allowed_host(browser_context, botportal_server, hosts, owner)
    expect(frame.get_by_role("log")).to_contain_text("Hi! I'm the Demo shop assistant.")

    page.route(
        re.compile(r".*/complete$"),
        lambda route: route.fulfill(
            status=429,
            headers={"Retry-After": "30", "Content-Type": "application/json"},
            body='{"message": "Too many requests.", "code": "TOO_MANY_REQUESTS"}',
        ),
    )
    ask(frame, QUESTION)
    expect(frame.locator(".bp-notice-error")).to_contain_text("Too many messages right now. Please wait 30 seconds")
    # The visitor's text is given back to retry with.
    expect(frame.get_by_role("textbox", name="Your message")).to_have_value(QUESTION)
    page.unroute(re.compile(r".*/complete$"))

    # The bot is deleted while the visitor is chatting: a clear message, not a blank widget.
    bot.delete()
    frame.get_by_role("textbox", name="Your message").press("Enter")
    expect(frame.locator(".bp-notice-error").last).to_contain_text("This assistant is no longer available.")
    expect(frame.locator(".bp-notice-info")).to_have_count(0)


def test_prechat_form_passes_the_contact(browser_context, botportal_server, hosts, owner):
    expect = playwright_sync.expect
    bot = make_bot(owner, allowed_origins=[origin_of(hosts["allowed"])], meta={"widget": {"prechat": True}})
    page = browser_context.new_page()
    page.goto(embed(hosts["allowed"], botportal_server.url, bot))
    launcher = page.get_by_role("button", name="Chat with us")
    launcher.click()
    frame = page.frame_locator("iframe[title='Chat']")

    name = frame.get_by_label("Name")
    expect(name).to_be_focused()
    expect(frame.get_by_role("textbox", name="Your message")).to_be_disabled()
    name.fill("Ada Lovelace")
    frame.get_by_label("Email").fill("not an email")
    frame.get_by_role("button", name="Start chatting").click()
    expect(frame.get_by_role("alert")).to_contain_text("email")
    assert not Conversation.objects.filter(bot=bot).exists()

    frame.get_by_label("Email").fill("ada@example.com")
    frame.get_by_label("Email").press("Enter")
    expect(frame.get_by_role("log")).to_contain_text("Hi! I'm the Demo shop assistant.")
    expect(frame.locator("#bp-prechat")).to_be_hidden()
    conversation = Conversation.objects.select_related("contact").get(bot=bot)
    assert (conversation.contact.name, conversation.contact.email) == ("Ada Lovelace", "ada@example.com")


def test_keyboard_only_on_a_phone_sized_screen(browser, botportal_server, hosts, owner):
    expect = playwright_sync.expect
    cache.clear()
    context = browser.new_context(viewport={"width": 375, "height": 667}, is_mobile=True, has_touch=True)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        bot = make_bot(owner, allowed_origins=[origin_of(hosts["allowed"])])
        page = context.new_page()
        page.goto(embed(hosts["allowed"], botportal_server.url, bot))
        launcher = page.get_by_role("button", name="Chat with us")
        launcher.wait_for()

        page.keyboard.press("Tab")
        expect(launcher).to_be_focused()
        page.keyboard.press("Enter")
        frame = page.frame_locator("iframe[title='Chat']")
        box = frame.get_by_role("textbox", name="Your message")
        expect(box).to_be_focused()
        expect(frame.get_by_role("log")).to_have_attribute("aria-live", "polite")

        # The chat fills the phone's screen and nothing scrolls sideways.
        frame_box = page.locator("iframe[title='Chat']").bounding_box()
        assert (frame_box["x"], frame_box["y"], frame_box["width"], frame_box["height"]) == (0, 0, 375, 667)
        chat = next(f for f in page.frames if "/widget/" in f.url)
        assert chat.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")

        page.keyboard.type(QUESTION)
        page.keyboard.press("Enter")
        expect(frame.get_by_role("button", name="That's all")).to_be_enabled()
        expect(box).to_be_focused()
        # Back from the message box to the choices, and choose one with the keyboard.
        page.keyboard.press("Shift+Tab")
        expect(frame.get_by_role("button", name="That's all")).to_be_focused()
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Enter")
        expect(frame.get_by_role("log")).to_contain_text("Connecting you with a person.")

        page.keyboard.press("Escape")
        expect(page.locator("iframe[title='Chat']")).to_be_hidden()
        expect(launcher).to_be_focused()
        expect(launcher).to_have_attribute("aria-expanded", "false")
    finally:
        context.close()


def test_a_page_on_an_origin_not_allowed_cannot_create_sessions(browser_context, botportal_server, hosts, owner):
    expect = playwright_sync.expect
    bot = make_bot(owner, allowed_origins=[origin_of(hosts["allowed"])])
    page = browser_context.new_page()
    page.goto(embed(hosts["other"], botportal_server.url, bot, path="/other"))
    create_url = f"{botportal_server.url}/api/v1/bot/{bot.pk}/session/create"

    outcome = page.evaluate(
        """async (url) => {
          try {
            const response = await fetch(url, {
              method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify({}),
            });
            return 'answered ' + response.status;
          } catch (error) {
            return 'blocked';
          }
        }""",
        create_url,
    )
    assert outcome == "blocked"
    # Without a preflight (a "simple" request the browser sends blind), the server still opens nothing.
    page.evaluate(
        """async (url) => {
          await fetch(url, {method: 'POST', mode: 'no-cors', headers: {'Content-Type': 'text/plain'}, body: '{}'});
        }""",
        create_url,
    )

    # The launcher is there, but the browser refuses to show botportal's page in its frame.
    page.get_by_role("button", name="Chat with us").click()
    page.wait_for_timeout(1500)
    chat_frames = [f for f in page.frames if "/widget/" in f.url]
    assert not any(f.locator("#bp-input").count() for f in chat_frames)
    assert not Conversation.objects.filter(bot=bot).exists()

    # The same request from the allowed origin is answered and readable.
    page.goto(embed(hosts["allowed"], botportal_server.url, bot, path="/allowed"))
    created = page.evaluate(
        """async (url) => {
          const response = await fetch(url, {
            method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify({}),
          });
          return {status: response.status, body: await response.json()};
        }""",
        create_url,
    )
    assert created["status"] == 200
    assert created["body"]["id"] == str(bot.pk)
    expect(page.get_by_role("button", name="Chat with us")).to_be_visible()
    assert Conversation.objects.filter(bot=bot).count() == 1


def test_private_bot_widget_is_not_found(browser_context, botportal_server, owner):
    bot = Bot.objects.create(owner=owner, name="Internal", visibility="private")
    page = browser_context.new_page()

    response = page.goto(f"{botportal_server.url}/widget/{bot.pk}/")

    assert response.status == 404
