"""Fixtures that drive Debian's Chromium through Playwright.

Playwright's own browser download is not used: the tests launch the system
Chromium at ``HARDENED_TESTS_CHROMIUM`` (``/usr/bin/chromium`` by default).
Without it these tests are skipped, unless ``HARDENED_TESTS_REQUIRE_BROWSER``
is ``1``, in which case its absence is an error. Screenshots are written to
``build/screenshots/`` as test artifacts.
"""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("HARDENED_TESTS_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = Path(__file__).resolve().parents[3] / "build" / "screenshots"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("HARDENED_TESTS_REQUIRE_BROWSER") == "1":
        raise pytest.UsageError(f"Browser tests need Chromium at {CHROMIUM}.")
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.path).parents:
            item.add_marker(pytest.mark.skip(reason=f"no Chromium at {CHROMIUM}"))


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    # Playwright's synchronous API runs an event loop in this thread; the
    # tests still talk to the database only from plain synchronous code.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(base_url=None)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def screenshot(page):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
