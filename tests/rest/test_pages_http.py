"""The pages over plain HTTP: content negotiation, escaping, the CSRF token, owners."""

from __future__ import annotations

import stat
import time
from collections.abc import Iterator

import pytest
import requests
from lxml import etree, html

from wsrf_uws.rest.html import TOKEN_FIELD
from wsrf_uws.rest.html.tokens import SECRET_FILE
from wsrf_uws.testing.server import RunningServer

from rest_support import ALICE, BOB, post_job, server_with_users

#: What Chromium sends when it navigates to a page.
BROWSER_ACCEPT = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
)
HOSTILE = '<script>alert("x")</script> & <b>bold</b>'
PENDING_JDL = (
    b'<job xmlns="urn:wsrf-uws:steps:v1"><steps>1</steps><stepSeconds>0.1</stepSeconds></job>'
)
FAILING_JDL = (
    b'<job xmlns="urn:wsrf-uws:steps:v1"><steps>1</steps><stepSeconds>0.05</stepSeconds>'
    b"<fail>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;"
    b"</fail></job>"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    folder = tmp_path_factory.mktemp("pages")
    with server_with_users(folder, ALICE, BOB, allow_anonymous=True) as running:
        yield running


def create(server: RunningServer, auth: tuple[str, str], jdl: bytes = PENDING_JDL) -> str:
    return post_job(f"{server.base_url}/rest/steps", jdl, auth=auth)


def page(url: str, auth: tuple[str, str] | None) -> requests.Response:
    return requests.get(url, headers={"Accept": BROWSER_ACCEPT}, auth=auth, timeout=30)


def form_token(url: str, auth: tuple[str, str]) -> str:
    answer = page(url, auth)
    assert answer.status_code == 200, answer.text
    tokens = html.fromstring(answer.content).xpath(f"//input[@name='{TOKEN_FIELD}']/@value")
    assert tokens and len(set(tokens)) == 1
    return str(tokens[0])


def phase(url: str, auth: tuple[str, str]) -> str:
    return requests.get(url + "/phase", auth=auth, timeout=30).text


def browser_post(
    url: str, data: dict[str, str], auth: tuple[str, str], *, origin: str = "http://evil.test"
) -> requests.Response:
    return requests.post(
        url,
        data=data,
        headers={"Origin": origin, "Sec-Fetch-Site": "cross-site"},
        auth=auth,
        allow_redirects=False,
        timeout=30,
    )


#: What Java's HTTP client (STILTS, TOPCAT) sends unless told otherwise.
JAVA_ACCEPT = "text/html, image/gif, image/jpeg, *; q=.2, */*; q=.2"
NAVIGATION = "document"


@pytest.mark.parametrize(
    ("accept", "destination", "is_page"),
    [
        (BROWSER_ACCEPT, None, True),
        (BROWSER_ACCEPT, NAVIGATION, True),
        ("text/html", NAVIGATION, True),
        ("application/xhtml+xml;q=0.9, text/xml;q=0.8", None, True),
        ("text/html", None, False),  # curl -H, or a client: not known to be a browser
        (JAVA_ACCEPT, None, False),
        ("*/*", NAVIGATION, False),
        ("*/*", None, False),
        ("", None, False),
        ("text/xml, text/html, application/xhtml+xml", NAVIGATION, False),
        ("application/xml;q=1, text/html;q=0.5, application/xhtml+xml", None, False),
        ("text/html;q=0, application/xhtml+xml;q=0", NAVIGATION, False),
    ],
)
def test_a_page_only_for_a_browser_preferring_html(
    server: RunningServer, accept: str, destination: str | None, is_page: bool
) -> None:
    headers = {"Accept": accept}
    if destination is not None:
        headers["Sec-Fetch-Dest"] = destination
    job = create(server, ALICE)
    for url in (job, f"{server.base_url}/rest/steps"):
        answer = requests.get(url, headers=headers, auth=ALICE, timeout=30)
        assert answer.status_code == 200
        kind = answer.headers["Content-Type"]
        if is_page:
            assert kind.startswith("text/html")
            assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
            assert "script-src" not in answer.headers["Content-Security-Policy"]
            html.fromstring(answer.content)  # parses
        else:
            assert kind.startswith("text/xml")
            assert etree.fromstring(answer.content).tag.endswith(("}job", "}jobs"))


def test_the_list_page_holds_the_callers_jobs_only(server: RunningServer) -> None:
    alices, bobs = create(server, ALICE), create(server, BOB)
    listed = html.fromstring(page(f"{server.base_url}/rest/steps", ALICE).content)
    links = set(listed.xpath("//table[@id='jobs']//a/@href"))
    assert alices in links
    assert bobs not in links
    assert listed.xpath("string(//span[@id='owner'])") == "alice"


def test_job_errors_are_escaped(server: RunningServer) -> None:
    job = create(server, ALICE, FAILING_JDL)
    assert requests.post(job + "/phase", data={"PHASE": "RUN"}, auth=ALICE, timeout=30).ok
    deadline = time.monotonic() + 60
    while phase(job, ALICE) != "ERROR":
        assert time.monotonic() < deadline, phase(job, ALICE)
        time.sleep(0.1)
    answer = page(job, ALICE)
    assert "<script>" not in answer.text
    assert "&lt;script&gt;" in answer.text
    document = html.fromstring(answer.content)
    assert document.xpath("string(//span[@id='error-message'])") == HOSTILE
    assert not document.xpath("//script | //b")
    assert document.xpath("string(//span[@id='phase'])") == "ERROR"


def test_a_browser_post_needs_the_owners_token(server: RunningServer) -> None:
    job = create(server, ALICE)
    run = {"PHASE": "RUN"}
    refused = browser_post(job + "/phase", run, ALICE)
    assert refused.status_code == 403
    assert TOKEN_FIELD in refused.text
    bobs_token = form_token(create(server, BOB), BOB)
    assert browser_post(job + "/phase", {**run, TOKEN_FIELD: bobs_token}, ALICE).status_code == 403
    assert browser_post(job, {"ACTION": "DELETE"}, ALICE).status_code == 403
    deleted = requests.delete(
        job, headers={"Sec-Fetch-Site": "same-origin"}, auth=ALICE, timeout=30
    )
    assert deleted.status_code == 403
    assert phase(job, ALICE) == "PENDING"
    token = form_token(job, ALICE)
    started = browser_post(
        job + "/phase", {**run, TOKEN_FIELD: token}, ALICE, origin=server.base_url
    )
    assert started.status_code == 303
    assert started.headers["Location"] == job
    assert phase(job, ALICE) != "PENDING"


def test_clients_that_are_not_browsers_post_as_before(server: RunningServer) -> None:
    job = create(server, ALICE)
    started = requests.post(job + "/phase", data={"PHASE": "RUN"}, auth=ALICE, timeout=30)
    assert started.status_code == 200  # followed the 303 to the uws:job
    assert phase(job, ALICE) != "PENDING"


def test_another_owners_job_page_is_not_found(server: RunningServer) -> None:
    bobs = create(server, BOB)
    assert page(bobs, ALICE).status_code == 404
    assert page(bobs, None).status_code == 404
    token = form_token(create(server, ALICE), ALICE)
    # Her own token passes the CSRF check; the owner check then tells her nothing is there.
    unknown = browser_post(bobs, {"ACTION": "DELETE", TOKEN_FIELD: token}, ALICE)
    assert unknown.status_code == 404
    bobs_token = form_token(bobs, BOB)
    refused = browser_post(bobs, {"ACTION": "DELETE", TOKEN_FIELD: bobs_token}, ALICE)
    assert refused.status_code == 403  # bob's token is not hers
    assert phase(bobs, BOB) == "PENDING"


def test_tokens_outlive_a_restart(server: RunningServer) -> None:
    job = create(server, ALICE)
    token = form_token(job, ALICE)
    secret = server.data_dir / SECRET_FILE
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    server.stop()
    server.start()
    job = job.replace(job.split("/rest/")[0], server.base_url)
    assert form_token(job, ALICE) == token
    started = browser_post(job + "/phase", {"PHASE": "RUN", TOKEN_FIELD: token}, ALICE)
    assert started.status_code == 303
