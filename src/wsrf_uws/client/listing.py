"""What ``listJobs`` answers: one :class:`JobListing` per job of the caller.

The service lists the caller's jobs of every contract, newest first, each with its
endpoint reference (``address`` and ``resource_id``), contract, phase and times. An
answer holds at most the service's limit of jobs (``max_listed_jobs``); when more
matched, :attr:`JobListings.truncated` says so, and ``after`` or ``last`` ask for the rest.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from ..wire.elements import is_nil
from ..wire.names import RESOURCE_ID
from ..wire.namespaces import CORE, WSA, WSA_2004, q
from .errors import TransportError
from .times import parse_datetime

__all__ = ["JobListing", "JobListings", "parse_listing"]


@dataclass(frozen=True)
class JobListing:
    """One job of a listJobs answer."""

    #: The opaque identifier (the ``uwscore:ResourceId`` reference parameter).
    resource_id: str
    #: The phase when listed (``PENDING``, ``EXECUTING``, ``COMPLETED``, ...).
    phase: str
    #: When the job was created (UTC).
    creation_time: datetime
    #: When the service will destroy it (UTC); None: never.
    termination_time: datetime | None
    #: The endpoint the resource lives at (its EPR's ``wsa:Address``).
    address: str
    #: The contract of the job (``cea``, ``adql``, ...).
    contract: str = ""


class JobListings(list[JobListing]):
    """The jobs of one answer, newest first; :attr:`truncated` if more matched."""

    def __init__(self, listings: Iterable[JobListing] = (), *, truncated: bool = False) -> None:
        super().__init__(listings)
        #: More jobs matched than the service answers at once (its ``max_listed_jobs``).
        self.truncated = truncated


def parse_listing(response: etree._Element, *, url: str = "") -> JobListings:
    """The jobs of a ``uwscore:listJobsResponse`` element."""
    if response.tag != q(CORE, "listJobsResponse"):
        raise TransportError(f"listJobs answered {response.tag}", url=url)
    listings = []
    for entry in response.iterchildren(q(CORE, "Job")):
        epr = next(
            iter(entry.iterchildren(q(WSA, "EndpointReference"), q(WSA_2004, "EndpointReference"))),
            None,
        )
        identifier = None if epr is None else next(epr.iter(RESOURCE_ID), None)
        ends = entry.find(q(CORE, "TerminationTime"))
        listings.append(
            JobListing(
                resource_id=_text(identifier),
                phase=_text(entry.find(q(CORE, "Phase"))),
                creation_time=parse_datetime(_text(entry.find(q(CORE, "CreationTime")))),
                termination_time=(
                    None if ends is None or is_nil(ends) else parse_datetime(_text(ends))
                ),
                address=_text(None if epr is None else epr.find("{*}Address")),
                contract=_text(entry.find(q(CORE, "Contract"))),
            )
        )
    truncated = _text(response.find(q(CORE, "Truncated"))) in ("true", "1")
    return JobListings(listings, truncated=truncated)


def _text(element: etree._Element | None) -> str:
    return "" if element is None else (element.text or "").strip()
