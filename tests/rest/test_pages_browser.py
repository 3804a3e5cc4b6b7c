"""The pages in a real browser: headless Chromium (Debian ``chromium``, ``chromium-driver``)
driven by Selenium, against a real server with HTTP Basic users.

The browser signs in with credentials in the URL, answering the service's 401 challenge,
and then sends them with every request to the service, forms included, as a browser
does: that is why the pages' forms need a token. A screenshot of a running job is saved
in the test's ``tmp_path``.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote, urlsplit

import pytest
import requests
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service as DriverService
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from wsrf_uws.rest.html import TOKEN_FIELD
from wsrf_uws.testing.server import RunningServer

from rest_support import ALICE, BOB, post_job, server_with_users

#: Long enough to be seen running, aborted mid-way.
SLOW_JDL = b'<job xmlns="urn:wsrf-uws:steps:v1"><steps>30</steps><stepSeconds>1</stepSeconds></job>'
QUICK_JDL = (
    b'<job xmlns="urn:wsrf-uws:steps:v1"><steps>2</steps><stepSeconds>0.2</stepSeconds></job>'
)
TIMEOUT = 60.0


def browser_binaries() -> tuple[str, str]:
    """Chromium and its driver, from Debian; under CI their absence fails the test."""
    browser = shutil.which("chromium")
    driver = shutil.which("chromedriver")
    if browser is None or driver is None:
        missing = "Debian packages chromium and chromium-driver"
        if os.environ.get("CI") == "true":
            pytest.fail(f"no headless browser: install the {missing} (.ci/run installs them)")
        pytest.skip(f"no headless browser (the {missing})")
    return browser, driver


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    folder = tmp_path_factory.mktemp("browser")
    with server_with_users(folder, ALICE, BOB, allow_anonymous=False) as running:
        yield running


@pytest.fixture(scope="module")
def browser(server: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    chromium, chromedriver = browser_binaries()
    downloads = str(tmp_path_factory.mktemp("downloads"))
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    options.add_experimental_option(
        "prefs", {"download.default_directory": downloads, "download.prompt_for_download": False}
    )
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument("--window-size=1100,900")
    # The performance log holds each response's status, which the page does not show.
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=DriverService(executable_path=chromedriver))
    driver.set_page_load_timeout(TIMEOUT)
    driver.capabilities["downloads"] = downloads
    try:
        # Sign in: the service's 401 challenge is answered with the URL's credentials,
        # which the browser then sends to the whole service.
        parts = urlsplit(server.base_url)
        user, password = (quote(part, safe="") for part in ALICE)
        driver.get(f"{parts.scheme}://{user}:{password}@{parts.netloc}/rest/steps")
        yield driver
    finally:
        driver.quit()


def create(server: RunningServer, jdl: bytes, auth: tuple[str, str] = ALICE) -> str:
    return post_job(f"{server.base_url}/rest/steps", jdl, auth=auth)


def phase(job: str, auth: tuple[str, str] = ALICE) -> str:
    return requests.get(job + "/phase", auth=auth, timeout=30).text


T = TypeVar("T")


def again(read: Callable[[], T]) -> T:
    """``read()``, done again when a reload of the page (a running job's page reloads
    itself) replaced the elements it was reading."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        try:
            return read()
        except (StaleElementReferenceException, WebDriverException):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def text_of(driver: WebDriver, element_id: str) -> str:
    return again(lambda: str(driver.find_element(By.ID, element_id).text))


def text_of_body(driver: WebDriver) -> str:
    return again(lambda: str(driver.find_element(By.TAG_NAME, "body").text))


def wait_for(driver: WebDriver, element_id: str, wanted: set[str]) -> str:
    """Waits until the element's text is one of ``wanted`` (the page reloads itself)."""
    deadline = time.monotonic() + TIMEOUT
    while (seen := text_of(driver, element_id)) not in wanted:
        assert time.monotonic() < deadline, f"#{element_id} stayed {seen!r}, not in {wanted}"
        time.sleep(0.1)
    return seen


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, "the browser did not get there"
        time.sleep(0.1)


def progress(driver: WebDriver) -> float:
    value = again(lambda: driver.find_element(By.ID, "progress").get_attribute("value"))
    return float(value or 0)


def click(driver: WebDriver, button_id: str) -> None:
    again(lambda: driver.find_element(By.ID, button_id).click())


def listed_ids(driver: WebDriver) -> set[str]:
    """The ids of the jobs on the job list page."""

    def read() -> set[str]:
        rows = driver.find_elements(By.CSS_SELECTOR, "#jobs tr.job")
        return {str(row.get_attribute("data-id")) for row in rows}

    return again(read)


def last_status(driver: WebDriver, url: str) -> int:
    """The status of the latest response to ``url`` the browser received."""
    statuses = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.responseReceived":
            response = message["params"]["response"]
            if response["url"] == url:
                statuses.append(int(response["status"]))
    assert statuses, f"no response from {url}"
    return statuses[-1]


def test_list_start_progress_extend_abort_destroy(
    server: RunningServer, browser: WebDriver, tmp_path: Path
) -> None:
    job = create(server, SLOW_JDL)
    bobs = create(server, QUICK_JDL, BOB)
    browser.get(f"{server.base_url}/rest/steps")
    listed = listed_ids(browser)
    job_id = job.rsplit("/", 1)[1]
    assert job_id in listed
    assert bobs.rsplit("/", 1)[1] not in listed
    assert text_of(browser, "owner") == "alice"

    browser.find_element(By.LINK_TEXT, job_id).click()
    wait_until(lambda: browser.current_url == job)
    assert text_of(browser, "phase") == "PENDING"
    assert browser.find_elements(By.ID, "start")
    assert not browser.find_elements(By.ID, "progress")  # nothing to tell yet

    click(browser, "start")  # 303 back to the page, which reloads itself while running
    wait_for(browser, "phase", {"EXECUTING"})
    deadline = time.monotonic() + TIMEOUT
    while not browser.find_elements(By.CSS_SELECTOR, "#steps li.step-done"):
        assert time.monotonic() < deadline, "no step done"
        time.sleep(0.2)
        browser.refresh()
    assert 0 < progress(browser) < 100
    steps = browser.find_elements(By.CSS_SELECTOR, "#steps li.step")
    assert len(steps) == 30
    assert browser.find_elements(By.CSS_SELECTOR, "#results a")
    assert not browser.find_elements(By.ID, "start")
    browser.save_screenshot(str(tmp_path / "job-executing.png"))
    assert (tmp_path / "job-executing.png").stat().st_size > 0

    shown = text_of(browser, "time-destruction")
    time.sleep(0.01)  # the policy's latest destruction time moves with the clock
    click(browser, "extend")
    wait_until(lambda: text_of(browser, "time-destruction") != shown)
    after = datetime.fromisoformat(text_of(browser, "time-destruction"))
    assert after > datetime.fromisoformat(shown)
    assert browser.current_url == job

    click(browser, "abort")
    wait_for(browser, "phase", {"ABORTED"})
    assert phase(job) == "ABORTED"
    assert not browser.find_elements(By.ID, "abort")

    click(browser, "destroy")  # 303 to the job list
    wait_until(lambda: browser.current_url == f"{server.base_url}/rest/steps")
    assert job_id not in listed_ids(browser)
    assert requests.get(job, auth=ALICE, timeout=30).status_code == 404


def test_a_completed_job_links_its_results(server: RunningServer, browser: WebDriver) -> None:
    job = create(server, QUICK_JDL)
    browser.get(job)
    click(browser, "start")
    wait_for(browser, "phase", {"COMPLETED"})
    assert progress(browser) == 100
    assert text_of(browser, "percent") == "100%"
    links = browser.find_elements(By.CSS_SELECTOR, "#results a")
    assert [link.text for link in links] == ["step-1.txt", "step-2.txt"]
    href = links[0].get_attribute("href")
    assert href == f"{server.base_url}/results/{job.rsplit('/', 1)[1]}/step-1.txt"
    links[0].click()  # an attachment: the browser saves it, with alice's credentials
    saved = Path(browser.capabilities["downloads"]) / "step-1.txt"
    wait_until(saved.exists)
    assert saved.read_bytes() == requests.get(href, auth=ALICE, timeout=30).content


def test_a_form_without_the_token_is_refused(server: RunningServer, browser: WebDriver) -> None:
    job = create(server, QUICK_JDL)
    browser.get(job)
    browser.execute_script(
        'document.querySelector("#start-form input[name=\'" + arguments[0] + "\']").remove()',
        TOKEN_FIELD,
    )
    click(browser, "start")
    wait_until(lambda: browser.current_url == job + "/phase")
    assert TOKEN_FIELD in text_of_body(browser)
    assert last_status(browser, job + "/phase") == 403
    assert phase(job) == "PENDING"


def test_another_site_cannot_start_a_job(server: RunningServer, browser: WebDriver) -> None:
    job = create(server, QUICK_JDL)
    # A page of another origin posting the start form without the token: the browser
    # sends alice's credentials along (a 403, not a 401), and the token check refuses it.
    attack = (
        "<form method=post action='" + job + "/phase'><input name=PHASE value=RUN></form><p>hi</p>"
    )
    browser.get("data:text/html," + quote(attack))
    browser.execute_script("document.forms[0].submit()")
    wait_until(lambda: not browser.current_url.startswith("data:"))
    assert last_status(browser, job + "/phase") == 403
    assert phase(job) == "PENDING"


def test_another_owners_job_is_not_found(server: RunningServer, browser: WebDriver) -> None:
    bobs = create(server, QUICK_JDL, BOB)
    browser.get(bobs)
    assert last_status(browser, bobs) == 404
    assert not browser.find_elements(By.ID, "phase")
    assert phase(bobs, BOB) == "PENDING"
