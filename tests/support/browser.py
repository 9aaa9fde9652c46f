"""Headless Chromium (Debian's package) driven by Playwright, for page tests.

Playwright's sync API launches the system's /usr/bin/chromium through `executable_path`: no
browser is downloaded (`playwright install` is never run). What a page does is collected from
Playwright's own events: console messages, uncaught page errors, requests and failed requests.
Chromium resolves no host names (--host-resolver-rules), so a page that needs the network shows
it as failed requests.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import ConsoleMessage, Request, ViewportSize, sync_playwright
from playwright.sync_api import Page as PlaywrightPage

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
VIEWPORT: ViewportSize = {"width": 1280, "height": 900}


def chromium_path() -> str:
    found = shutil.which(CHROMIUM) or shutil.which("chromium")
    if found is None:
        raise RuntimeError(
            "Chromium is not installed: the report is tested in a real browser. Install Debian's "
            "package (apt-get install chromium); .ci/run does so when it is absent."
        )
    return found


@dataclass
class PageLoad:
    """What the browser saw while loading one page."""

    url: str
    console: list[str] = field(default_factory=list)  # every console message, "type: text"
    console_errors: list[str] = field(default_factory=list)  # the text of errors and asserts
    exceptions: list[str] = field(default_factory=list)  # uncaught errors of the page
    requests: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)  # "url: reason"


class Page:
    """One Playwright page, and what it saw since the last `load`."""

    def __init__(self, page: PlaywrightPage) -> None:
        self._page = page
        self._seen = PageLoad("")
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self._seen.exceptions.append(str(error)))
        page.on("request", lambda request: self._seen.requests.append(request.url))
        page.on("requestfailed", self._on_failed)

    def _on_console(self, message: ConsoleMessage) -> None:
        self._seen.console.append(f"{message.type}: {message.text}")
        if message.type in ("error", "assert"):
            self._seen.console_errors.append(message.text)

    def _on_failed(self, request: Request) -> None:
        self._seen.failed_requests.append(f"{request.url}: {request.failure}")

    def load(self, url: str) -> PageLoad:
        """Navigate, wait for the load event and a quiet moment, and report what happened."""
        self._seen = PageLoad(url)
        self._page.goto(url, wait_until="load")
        self._page.wait_for_timeout(300)  # late console messages
        return self._seen

    def evaluate(self, expression: str) -> Any:
        return self._page.evaluate(expression)

    def screenshot(self, path: Path, *, full_page: bool = True) -> bytes:
        """The whole page (or the first screen: a page of 10,000 rows is past Chromium's limit)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        return self._page.screenshot(path=path, full_page=full_page)


@contextmanager
def chromium() -> Iterator[Page]:
    """A headless Chromium with a fresh context, and one page of it."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=ARGS
        )
        try:
            context = browser.new_context(viewport=VIEWPORT)
            yield Page(context.new_page())
        finally:
            browser.close()
