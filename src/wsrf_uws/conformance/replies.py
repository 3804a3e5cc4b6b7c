"""Reading the service's replies: what each must be (DESIGN §2), or the check fails.

The ``expect_*`` helpers return the part of a reply a check goes on with, and fail the
check, saying what the service did instead, when the reply is not what DESIGN §2 asks
for. :func:`wait_for_phase` polls a job; the time helpers hold times to UTC with ``Z``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Collection
from datetime import UTC, datetime

from lxml import etree

from .names import PHASE, PHASES, RP, q, short
from .outcomes import CheckFailed, require
from .protocol import Endpoint, EndpointReference
from .wire import Fault, Reply


def expect_response(reply: Reply, tag: str, *, operation: str) -> etree._Element:
    """The body of a successful reply ``tag``; fail the check otherwise."""
    body = reply.body
    require(
        reply.fault is None and body is not None and body.tag == tag,
        f"{operation} answered {reply.describe()}, not {short(tag)}",
    )
    require(reply.http_status == 200, f"{operation} answered HTTP {reply.http_status}, not 200")
    assert body is not None
    return body


def expect_fault(
    reply: Reply, tags: Collection[str], *, operation: str, code: str = "Client"
) -> Fault:
    """The fault of a reply that must be one of ``tags`` (DESIGN §2 faults); fail otherwise.

    Checks the SOAP 1.1 fault (HTTP 500, ``soapenv:{code}``) and the WS-BaseFaults
    detail with its Timestamp.
    """
    fault = reply.fault
    wanted = " or ".join(short(t) for t in tags)
    require(fault is not None, f"{operation} answered {reply.describe()}, not a fault {wanted}")
    assert fault is not None
    require(
        fault.detail_tag in tags,
        f"{operation} answered the fault {fault.describe()}, not {wanted}",
    )
    require(
        reply.http_status == 500,
        f"{operation}: the fault came with HTTP {reply.http_status}, not 500 (SOAP 1.1 §6.2)",
    )
    require(
        fault.is_code(code),
        f"{operation}: faultcode {fault.code!r} in {fault.code_namespace}, not soapenv:{code}",
    )
    stamp = fault.timestamp
    require(stamp, f"{operation}: the fault detail has no wsrf-bf:Timestamp (WS-BaseFaults 1.2)")
    assert stamp is not None
    parse_time(stamp, what=f"{operation}'s fault Timestamp")
    return fault


def reply_phase(reply: Reply, *, operation: str, response: str) -> str:
    """The ``uwscore:Phase`` in a response element ``response`` (Clark), checked as a phase."""
    body = expect_response(reply, response, operation=operation)
    phase = body.find(PHASE)
    require(phase is not None, f"{operation}'s {short(response)} holds no uwscore:Phase")
    assert phase is not None
    return checked_phase(phase.text, where=operation)


def checked_phase(text: str | None, *, where: str) -> str:
    """``text`` as a UWS 1.1 phase name; fail if it is none."""

    value = (text or "").strip()
    require(value in PHASES, f"{where}: {value!r} is not a UWS 1.1 phase")
    return value


def property_values(
    reply: Reply, name: str, *, operation: str = "GetResourceProperty"
) -> list[etree._Element]:
    """The elements ``name`` in a GetResourcePropertyResponse."""
    body = expect_response(reply, q(RP, "GetResourcePropertyResponse"), operation=operation)
    return [child for child in body if child.tag == name]


def get_phase(endpoint: Endpoint, epr: EndpointReference) -> str:
    """The job's phase, read with GetResourceProperty ``uwscore:Phase``."""
    values = property_values(endpoint.get_property(epr, PHASE), PHASE)
    require(len(values) == 1, f"GetResourceProperty uwscore:Phase returned {len(values)} elements")
    return checked_phase(values[0].text, where="uwscore:Phase")


def wait_for_phase(
    endpoint: Endpoint,
    epr: EndpointReference,
    phases: Collection[str],
    *,
    timeout: float,
) -> tuple[str, list[str]]:
    """Poll ``uwscore:Phase`` until it is one of ``phases``; the phase and the phases seen.

    Fails the check when ``timeout`` seconds pass first.
    """
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    pause = 0.05
    while True:
        phase = get_phase(endpoint, epr)
        if not seen or seen[-1] != phase:
            seen.append(phase)
        if phase in phases:
            return phase, seen
        if time.monotonic() + pause > deadline:
            raise CheckFailed(
                f"still {phase} after {timeout:g} s (phases seen: {' → '.join(seen)}); "
                "raise --timeout for a slow service"
            )
        time.sleep(pause)
        pause = min(pause * 1.5, 1.0)


_UTC_TIME = re.compile(r"\d{4,}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")


def parse_time(text: str | None, *, what: str) -> datetime:
    """An ``xs:dateTime`` in UTC with ``Z`` (DESIGN §2: times on the wire); fail otherwise."""
    value = (text or "").strip()
    require(_UTC_TIME.fullmatch(value), f"{what} {value!r} is not a UTC xs:dateTime ending in Z")
    whole, _, fraction = value[:-1].partition(".")
    try:
        parsed = datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        raise CheckFailed(f"{what} {value!r} is not a valid date and time") from None
    if fraction:
        parsed = parsed.replace(microsecond=int(fraction[:6].ljust(6, "0")))
    return parsed


def format_time(moment: datetime) -> str:
    """``moment`` as an xs:dateTime in UTC with ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
