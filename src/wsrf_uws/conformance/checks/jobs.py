"""Reading a job's state the way DESIGN §2 publishes it: identifiers, times, result links."""

from __future__ import annotations

import math
import os
import re
from datetime import datetime
from functools import cache
from urllib.parse import urlsplit

from lxml import etree

from ... import published
from ...core.xmldoc import first_error, load_schema
from ..names import CORE, CURRENT_TIME, JOB_STATE, UWS, UWS_JOB, XLINK, q
from ..outcomes import CheckFailed, require
from ..protocol import Endpoint, EndpointReference
from ..replies import parse_time, property_values
from ..wire import Credentials, http_request

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", re.I)
_HEX = re.compile(r"[0-9a-fA-F]+")
_BASE64 = re.compile(r"[A-Za-z0-9_+/-]+=*")


def random_resource_id() -> str:
    """An identifier no service has issued (128 random bits, hexadecimal)."""
    return os.urandom(16).hex()


def identifier_bits(identifier: str) -> float:
    """How many bits an identifier of this form can carry (an upper bound on its randomness).

    A UUID carries 122 random bits at most (version and variant are fixed); hexadecimal
    4 bits a character; base64 6; anything else log2 of the printable ASCII range.
    """
    if _UUID.fullmatch(identifier):
        return 122.0
    if _HEX.fullmatch(identifier):
        return 4.0 * len(identifier)
    if _BASE64.fullmatch(identifier):
        return 6.0 * len(identifier.rstrip("="))
    return len(identifier) * math.log2(94)


def single_property(endpoint: Endpoint, epr: EndpointReference, name: str) -> etree._Element:
    """The one element GetResourceProperty ``name`` returns; fail if there is not exactly one."""
    values = property_values(endpoint.get_property(epr, name), name)
    require(len(values) == 1, f"GetResourceProperty {name} returned {len(values)} elements, not 1")
    return values[0]


def server_now(endpoint: Endpoint, epr: EndpointReference) -> datetime:
    """The service's clock: the resource's ``wsrfrl:CurrentTime`` (client clocks may differ)."""
    element = single_property(endpoint, epr, CURRENT_TIME)
    return parse_time(element.text, what="wsrfrl:CurrentTime")


def result_links(job_state: etree._Element, job: etree._Element | None) -> list[str]:
    """Every result URL of a job, however it is written (JobState results, then ``uws:job``'s).

    Lenient on purpose, so downloads can be judged apart from the attribute's form:
    :func:`link_problems` judges the form.
    """
    links: list[str] = []
    for result in job_state.iterchildren(q(CORE, "Result")):
        link = result.get(q(XLINK, "href")) or result.get("href")
        if link and link not in links:
            links.append(str(link))
    if job is not None:
        for result in job.iter(q(UWS, "result")):
            link = result.get(q(XLINK, "href")) or result.get("href")
            if link and link not in links:
                links.append(str(link))
    return links


def link_problems(job_state: etree._Element, job: etree._Element | None) -> list[str]:
    """What is wrong with the result links' form (DESIGN §2: ``xlink:href``, never bare)."""
    problems: list[str] = []
    results = [
        ("uwscore:Result", r, r.get("name")) for r in job_state.iterchildren(q(CORE, "Result"))
    ]
    if job is not None:
        results += [("uws:result", r, r.get("id")) for r in job.iter(q(UWS, "result"))]
    for kind, result, name in results:
        if result.get("href") is not None:
            problems.append(f"{kind} {name!r} carries a bare href attribute")
        if not result.get(q(XLINK, "href")):
            problems.append(f"{kind} {name!r} has no xlink:href")
    return problems


def served_by(url: str, base_url: str) -> bool:
    """Whether ``url`` is on the service's own origin (scheme, host and port)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" == base_url


def download_status(url: str, *, credentials: Credentials | None, timeout: float) -> int:
    """The HTTP status of a GET of ``url`` (only the start of the body is read)."""
    reply = http_request(
        url, credentials=credentials, timeout=timeout, limit=64 * 1024, truncate=True
    )
    return reply.status


@cache
def _uws_schema() -> etree.XMLSchema:
    return load_schema(published.schema_path("uws-1.1.xsd"))


def check_uws_job(job: etree._Element, *, resource_id: str | None) -> str:
    """Check a ``uws:job`` against the UWS 1.1 schema; its phase (fails the check otherwise)."""
    require(job.tag == UWS_JOB, f"the uws:job property is {job.tag}")
    error = first_error(job, _uws_schema())
    if error is not None:
        raise CheckFailed(f"uws:job is not valid UWS 1.1: line {error.line}: {error.message}")
    job_id = (job.findtext(q(UWS, "jobId")) or "").strip()
    require(
        job_id == resource_id,
        f"uws:job jobId {job_id!r} is not the ResourceId {resource_id!r}",
    )
    return (job.findtext(q(UWS, "phase")) or "").strip()


def check_job_state(state: etree._Element) -> tuple[str, int]:
    """Check the parts every JobState holds; its phase and RunCount."""
    require(state.tag == JOB_STATE, f"the JobState property is {state.tag}")
    phase = (state.findtext(q(CORE, "Phase")) or "").strip()
    require(phase, "JobState has no uwscore:Phase")
    parse_time(state.findtext(q(CORE, "CreationTime")), what="JobState CreationTime")
    for optional in ("StartTime", "EndTime"):
        text = state.findtext(q(CORE, optional))
        if text is not None:
            parse_time(text, what=f"JobState {optional}")
    count = (state.findtext(q(CORE, "RunCount")) or "").strip()
    require(count.isdigit(), f"JobState RunCount {count!r} is not a non-negative integer")
    return phase, int(count)


def error_message(state: etree._Element) -> str:
    """The message of a JobState's error report, if it has one."""
    message = state.findtext(f"{q(CORE, 'Error')}/{q(CORE, 'Message')}")
    return f": {message.strip()}" if message else ""
