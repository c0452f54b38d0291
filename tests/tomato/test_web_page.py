"""The web page in a real headless Chromium (the distribution's chromium and chromedriver):
the lab page lists the pipelines; a job's plot grows as points arrive and its status turns
`c` without a reload; each page's screenshot shows something."""

from __future__ import annotations

import shutil
import struct
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import payload, until
from test_web import WEB

pytestmark = pytest.mark.skipif(shutil.which("chromedriver") is None,
                                reason="needs chromium and chromedriver (.ci/run installs them)")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                 "--disable-gpu", "--window-size=1280,900", "--disable-extensions"):
        options.add_argument(flag)
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    driver = webdriver.Chrome(options=options,
                              service=Service(executable_path=shutil.which("chromedriver")))
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def text_of(browser: Any, css: str) -> str:
    """The text of the first element `css` finds (read at once: the page redraws)."""
    return browser.execute_script(  # type: ignore[no-any-return]
        "const e = document.querySelector(arguments[0]); return e ? e.innerText : '';", css)


def painted(png: bytes) -> int:
    """How many different byte values the screenshot's pixels hold (a blank page: one or
    two)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    data, at = b"", 8
    while at < len(png):
        length, kind = struct.unpack(">I4s", png[at:at + 8])
        if kind == b"IDAT":
            data += png[at + 8:at + 8 + length]
        at += 12 + length
    return len(set(zlib.decompress(data)))


def test_the_lab_and_a_job_live_in_a_browser(tomato_factory, browser):
    tomato = tomato_factory(settings=WEB)
    found = until(lambda: tomato.ketchup("web", "--json", check=False).returncode == 0
                  and tomato.json("web"), 30, "the web page to be served")
    # Without a token: refused.
    browser.get(found["url"])
    until(lambda: "a token is needed" in browser.page_source, 10, "the refusal shown")
    # With the address ketchup web prints: in, and the token leaves the address.
    browser.get(found["login"])
    until(lambda: "dummy-5" in text_of(browser, "#pipelines"), 20, "the pipelines listed")
    assert "token=" not in browser.current_url
    assert painted(browser.get_screenshot_as_png()) > 20
    # A job submitted: the lab page shows it waiting, without a reload.
    jobid = tomato.submit(payload("sequential", 6, 0.1))
    until(lambda: f"{jobid}" in text_of(browser, "#queue"), 20, "the job in the queue")
    tomato.prepare("dummy-5", "s1")
    until(lambda: "step 1 of 1" in text_of(browser, "#pipelines"), 20, "its progress")
    # Its page: the plot grows as points arrive, the status turns c, no reload.
    browser.get(f"{found['url']}jobs/{jobid}")
    until(lambda: text_of(browser, "#fact-status") == "r", 20, "the job's page")
    first = until(lambda: (n := points(browser)) >= 3 and n, 20, "points in the plot")
    until(lambda: points(browser) > first, 20, "more points a moment later")
    until(lambda: text_of(browser, "#fact-status") == "c", 30, "the status to turn c")
    assert until(lambda: points(browser) == 60 and 60, 10, "every point plotted") == 60
    until(lambda: ".nc" in text_of(browser, "#fact-outputs"), 30, "the outputs to download")
    assert painted(browser.get_screenshot_as_png()) > 20
    assert "value" in text_of(browser, ".plot .title")
    # A component's page, reached from the lab page's link.
    browser.get(found["url"])
    until(lambda: "dummy_device:5" in text_of(browser, "#pipelines"), 20, "the lab page")
    browser.execute_script("document.querySelector('a[href=\"/components/dummy_device%3A5\"]')"
                           ".click()")
    until(lambda: "dummy" in text_of(browser, "#facts"), 20, "the component's page")
    assert text_of(browser, "#title") == "dummy_device:5"
    assert painted(browser.get_screenshot_as_png()) > 20


def points(browser: Any) -> int:
    text = text_of(browser, ".plot .count")
    return int(text.split()[0]) if text else 0
