"""Headless Chromium (Debian's ``chromium`` and ``chromedriver``) against a live Praktik server on loopback."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from selenium import webdriver
from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait
from werkzeug.serving import BaseWSGIServer, make_server

#: axe-core, vendored (tests/vendor/README): WCAG 2.1 A and AA rules.
AXE = Path(__file__).resolve().parents[1] / "vendor" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
_AXE_RUN = """
const done = arguments[arguments.length - 1];
axe.run(document, {runOnly: {type: "tag", values: arguments[0]}, resultTypes: ["violations"]})
  .then(result => done(result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ") + " :: " + (n.failureSummary || "").split("\\n").join(" ")),
  }))))
  .catch(error => done([{id: "axe-error", impact: "error", help: String(error), nodes: []}]));
"""

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def require_chromium() -> None:
    import os

    if shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER):
        return
    message = f"browser tests need {CHROMIUM} and {CHROMEDRIVER} (Debian packages chromium, chromium-driver)"
    if os.environ.get("CI"):
        pytest.fail(message + " (required under CI)")
    pytest.skip(message)


@contextmanager
def live_server(app: Flask) -> Iterator[str]:
    """Serve ``app`` on a free loopback port in a thread; yields the base URL."""
    server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="praktik-live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()
        from web.extensions import db

        db.remove()
        engine = app.extensions.get("praktik.engine")
        if engine is not None:
            engine.dispose()


@contextmanager
def chromium(lang: str = "sv") -> Iterator[webdriver.Chrome]:
    require_chromium()
    profile = tempfile.mkdtemp(prefix="praktik-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--window-size=1280,1000",
        f"--lang={lang}",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    # Headless Chromium does not derive Accept-Language from --lang: set it, so pages come in ``lang``.
    options.add_experimental_option("prefs", {"intl.accept_languages": lang})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _gone(element: WebElement) -> bool:
    """Whether the page that held ``element`` has been replaced."""
    try:
        element.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException as exc:  # Chromium's wording for a node of a replaced document
        return "does not belong to the document" in str(exc)
    return False


class Page:
    """Small helpers over a driver, so that tests read as what a user does."""

    def __init__(self, driver: webdriver.Chrome, base: str) -> None:
        self.driver = driver
        self.base = base

    def open(self, path: str) -> None:
        self.driver.get(self.base + path)

    def find(self, css: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def all(self, css: str) -> list[WebElement]:
        return list(self.driver.find_elements(By.CSS_SELECTOR, css))

    def fill(self, css: str, value: str) -> None:
        element = self.find(css)
        element.clear()
        element.send_keys(value)

    def set_value(self, css: str, value: str) -> None:
        """Set an input's value directly (date and time inputs take typed text by locale)."""
        self.driver.execute_script("arguments[0].value = arguments[1];", self.find(css), value)

    def click(self, css: str) -> None:
        """Click, and wait for the page it leads to (every button here submits a form)."""
        old = self.find("html")
        self.find(css).click()
        WebDriverWait(self.driver, 60).until(lambda _driver: _gone(old))

    def text(self) -> str:
        return str(self.find("body").text)

    def login(self, email: str, password: str) -> None:
        self.open("/auth/login")
        self.fill("#email", email)
        self.fill("#password", password)
        self.click("main form [type=submit]")

    def logout(self) -> None:
        self.driver.delete_all_cookies()

    def accessibility_violations(self) -> list[dict[str, Any]]:
        """axe-core's WCAG 2.1 A/AA violations on the current page."""
        if not self.driver.execute_script("return typeof axe !== 'undefined'"):
            self.driver.execute_script(AXE.read_text(encoding="utf-8"))
        self.driver.set_script_timeout(60)
        violations: list[dict[str, Any]] = self.driver.execute_async_script(_AXE_RUN, AXE_TAGS)
        return violations

    def assert_accessible(self) -> None:
        """No WCAG 2.1 A or AA violation on the current page, as axe-core checks it."""
        violations = self.accessibility_violations()
        report = "\n".join(
            f"{v['id']} ({v['impact']}): {v['help']}\n    " + "\n    ".join(v["nodes"]) for v in violations
        )
        assert not violations, f"{self.driver.current_url}:\n{report}"

    def wait_for(self, condition: Callable[[], Any], timeout_s: float = 120, what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                value = condition()
            except (NoSuchElementException, StaleElementReferenceException):
                # A progress page reloads itself; an element found just before the
                # reload is gone when it is read. Look again on the new page.
                value = None
            except WebDriverException as exc:
                if "does not belong to the document" not in str(exc):
                    raise
                value = None
            if value:
                return value
            time.sleep(0.25)
        raise AssertionError(f"timed out waiting for {what}; page: {self.driver.current_url}\n{self.text()[:1500]}")
