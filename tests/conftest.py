"""What the browser tests share: one Playwright driving Debian's Chromium (never a browser Playwright
downloads) for the whole session, tests/e2e's and tests/compat's alike. One, because Playwright's sync
API refuses to start beside the event loop another instance keeps running in the test thread."""

import os
import shutil

import pytest

CHROMIUM = os.environ.get("BOTPORTAL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Playwright's sync API keeps an event loop running in the test thread for as long as the browser is
# open (the whole session); Django would refuse the test's own ORM calls and the database flush next
# to it, although they run synchronously, one at a time.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser():
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        raise RuntimeError(
            f"Chromium not found at {CHROMIUM}: `apt-get install chromium` (`make test` does it when it can run"
            " apt-get), or set BOTPORTAL_CHROMIUM to its path"
        )
    from playwright.sync_api import expect, sync_playwright

    # On the 2-core machine the suite runs on, a page's first answer can take longer than expect's 5 s
    # while other tests load it: assertions wait as long as the pages' actions do (15 s).
    expect.set_options(timeout=15_000)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


