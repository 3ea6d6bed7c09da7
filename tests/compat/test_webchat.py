"""Microsoft's Web Chat (botframework-webchat, pinned, its own bundle served locally) in Chromium against a
live gunicorn/uvicorn botportal: the page is on another origin, as a customer's site is; Web Chat starts
the conversation over the WebSocket, shows the welcome, the echo of what is sent, the bot's reply and
its suggested actions as buttons, and keeps the conversation across a reload."""

import functools
import os
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from .conftest import HERE, client_missing

pytestmark = [pytest.mark.live, pytest.mark.browser]
BUNDLE = HERE / "node_modules" / "botframework-webchat" / "dist" / "webchat.js"
SCREENSHOTS = os.environ.get("BOTPORTAL_SCREENSHOTS_DIR")


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A customer's site on an origin of its own, serving the page and Web Chat's bundle."""
    if not BUNDLE.exists():
        client_missing("botframework-webchat is missing: `npm ci --prefix tests/compat` (make install-dev)")
    root = tmp_path_factory.mktemp("site")
    shutil.copy(HERE / "webchat.html", root / "index.html")
    (root / "webchat.js").symlink_to(BUNDLE)
    handler = functools.partial(QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_webchat_converses_and_keeps_the_conversation_across_a_reload(dl_env, dl_server, site, browser):
    # The site's back end trades its secret for a token trusted on the site's origin only.
    generated = httpx.post(
        f"{dl_server}/v3/directline/tokens/generate",
        headers={"Authorization": f"Bearer {dl_env['dl_secret']}"},
        json={"user": {"id": "dl-web-user", "name": "Web visitor"}, "trustedOrigins": [site]},
        timeout=20,
    ).json()
    query = {"token": generated["token"], "domain": f"{dl_server}/v3/directline"}
    context = browser.new_context(viewport={"width": 480, "height": 760})
    context.set_default_timeout(20000)
    page = context.new_page()
    sockets = []
    page.on("websocket", lambda socket: sockets.append(socket.url))
    failed = []
    page.on("requestfailed", lambda request: failed.append(request.url))
    page.goto(f"{site}/index.html?{urlencode(query)}")

    transcript = page.locator(".webchat__basic-transcript")

    def said(text):
        return transcript.locator(".webchat__text-content", has_text=text)

    said("Hi! I'm the Direct Line helper.").wait_for()
    box = page.locator('[data-id="webchat-sendbox-input"]')
    box.fill("show me the menu")
    box.press("Enter")
    said("show me the menu").wait_for()
    said("Here is what I can do.").wait_for()
    button = page.locator(".webchat__suggested-action", has_text="Track my order")
    button.wait_for()
    assert page.locator(".webchat__suggested-action").count() == 2
    page.get_by_text("Send failed").wait_for(state="detached")
    assert sockets and sockets[0].startswith(dl_server.replace("http://", "ws://"))
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / "webchat.png"))
    button.click()
    link = transcript.locator('a[href="https://shop.example/track"]')
    link.wait_for()
    assert link.inner_text().strip() == "Track it here"

    # A reload with the conversation's id: Web Chat reconnects and shows the whole conversation again.
    page.goto(f"{site}/index.html?{urlencode({**query, 'conversationId': generated['conversationId']})}")
    said("show me the menu").wait_for()
    transcript.locator('a[href="https://shop.example/track"]').wait_for()
    assert said("Hi! I'm the Direct Line helper.").count() == 1
    assert not [url for url in failed if "/v3/directline" in url]
    context.close()
