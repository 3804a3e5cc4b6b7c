"""A job resource, as its endpoint reference names it: every operation of the pattern on it.

A :class:`Job` is the Address and ResourceId of one resource plus the channel to its
contract. Nothing is cached: each property read asks the service, so what a ``Job``
answers is always the service's current view. Resource properties come back as lxml
elements; :attr:`Job.state` parses the job-state property into a :class:`JobState`.
"""

from __future__ import annotations

import builtins
import importlib
import io
import os
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any, NamedTuple

from lxml import etree
from zeep import xsd

from ..wire.elements import is_nil
from ..wire.names import CURRENT_TIME, JOB_STATE, PHASE, TERMINATION_TIME, UWS_JOB
from ..wire.namespaces import RL, q
from ..wire.times import as_utc
from .channel import Channel
from .download import DownloadProgress, fetch_to_path, fetch_to_stream
from .errors import ResultUnavailable, TransportError, UnableToSetTerminationTime
from .state import SETTLED_PHASES, JobState, parse_job_state
from .times import INFINITE, Infinite, parse_datetime

__all__ = [
    "CURRENT_TIME",
    "JOB_STATE",
    "PHASE",
    "TERMINATION_TIME",
    "UWS_JOB",
    "Job",
    "QNameLike",
    "TerminationChange",
]

QNameLike = str | etree.QName


class TerminationChange(NamedTuple):
    """What SetTerminationTime answered: the new termination time (None: never) and now."""

    new_termination_time: datetime | None
    current_time: datetime


class Job:
    """One job resource of a contract endpoint."""

    def __init__(self, *, channel: Channel, resource_id: str, address: str) -> None:
        self._channel = channel
        #: The opaque identifier (the ``uwscore:ResourceId`` reference parameter).
        self.resource_id = resource_id
        #: The endpoint the resource lives at (its EPR's ``wsa:Address``).
        self.address = address

    def __repr__(self) -> str:
        return f"Job({self.resource_id!r} at {self.address})"

    def _call(self, operation: str, *args: Any, **kwargs: Any) -> etree._Element:
        return self._channel.call(
            operation, *args, address=self.address, resource_id=self.resource_id, **kwargs
        )

    # -- the UWS operations ----------------------------------------------------------------

    def start(self) -> str:
        """Start the job (startJob); return its phase afterwards (QUEUED, or later)."""
        return _phase_of(self._call("startJob"))

    def abort(self) -> str:
        """Abort the job (abortJob, UWS 1.1 ABORT): its work stops, the results so far stay;
        return its phase afterwards (ABORTED). A finished job refuses (InvalidPhase)."""
        return _phase_of(self._call("abortJob"))

    def resume(self) -> str:
        """Resume a HELD job (resumeJob); return its phase afterwards."""
        return _phase_of(self._call("resumeJob"))

    def invoke(self, operation: str, /, **parameters: Any) -> etree._Element:
        """Call one of the contract's own operations on this job; return the reply's body child.

        ``parameters`` are the request element's children, as the WSDL declares them
        (for instance ``job.invoke("exposeRows", start=0, end=1000)`` on an ``adql`` job).
        Faults raise as for every other operation. Parameters named ``address`` or
        ``resource_id`` cannot be passed this way (the channel's own arguments).
        """
        clash = {"address", "resource_id"} & parameters.keys()
        if clash:
            raise ValueError(f"invoke cannot pass a parameter named {sorted(clash)[0]!r}")
        return self._call(operation, **parameters)

    # -- resource properties ---------------------------------------------------------------

    def property(self, qname: QNameLike) -> list[etree._Element]:
        """The elements of the resource property ``qname`` (``"{ns}local"`` or a QName)."""
        return _children(self._call("GetResourceProperty", _qname(qname)))

    def properties(self, *qnames: QNameLike) -> list[etree._Element]:
        """The elements of several properties in one call, in the order asked."""
        if not qnames:
            raise ValueError("name at least one property")
        names = [_qname(name) for name in qnames]
        return _children(self._call("GetMultipleResourceProperties", names))

    def document(self) -> etree._Element:
        """The whole resource-property document (its root element)."""
        reply = _children(self._call("GetResourcePropertyDocument"))
        if not reply:
            raise TransportError(
                "GetResourcePropertyDocument answered no document", url=self.address
            )
        return reply[0]

    def _one(self, qname: str) -> etree._Element:
        found = self.property(qname)
        if not found:
            raise TransportError(f"the service sent no {qname} property", url=self.address)
        return found[0]

    @builtins.property
    def phase(self) -> str:
        """The current phase (``PENDING``, ``EXECUTING``, ``COMPLETED``, ...)."""
        return (self._one(PHASE).text or "").strip()

    @builtins.property
    def state(self) -> JobState:
        """Everything about the job in one reading (the ``uwscore:JobState`` property)."""
        return parse_job_state(self._one(JOB_STATE))

    @builtins.property
    def termination_time(self) -> datetime | None:
        """When the service will destroy the resource; None: never."""
        element = self._one(TERMINATION_TIME)
        if is_nil(element):
            return None
        return parse_datetime(element.text or "")

    def uws_job(self) -> etree._Element:
        """The UWS 1.1 JobSummary (``uws:job``) of the job."""
        return self._one(UWS_JOB)

    def uws_summary(self) -> Any:
        """The JobSummary parsed by ``pyvo.io.uws`` (needs pyvo installed)."""
        uws = importlib.import_module("pyvo.io.uws")
        return uws.parse_job(io.BytesIO(etree.tostring(self.uws_job())))

    # -- waiting ---------------------------------------------------------------------------

    def wait(
        self,
        *,
        timeout: float | None = None,
        poll: float = 0.5,
        progress: Callable[[JobState], object] | None = None,
    ) -> JobState:
        """Poll until the job has ended or is HELD; return its last state.

        ``progress`` is called with every state read. A job still PENDING waits for
        someone to start it, so give a ``timeout`` (seconds; TimeoutError when it
        passes) unless the job has been started.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            state = self.state
            if progress is not None:
                progress(state)
            if state.phase in SETTLED_PHASES:
                return state
            pause = poll
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"job {self.resource_id} still {state.phase} after {timeout} s"
                    )
                pause = min(poll, left)
            time.sleep(pause)

    # -- lifetime --------------------------------------------------------------------------

    def extend(
        self,
        *,
        until: datetime | Infinite | None = None,
        by: timedelta | None = None,
        lifetime: timedelta | None = None,
    ) -> TerminationChange:
        """Set the termination time (SetTerminationTime); give exactly one of:

        ``until``: a time (naive means UTC); a past one destroys the resource now;
        :data:`INFINITE` asks for no termination, which a service may refuse.
        ``by``: added to the present termination time (read first; a resource that never
        terminates raises UnableToSetTerminationTime, there being nothing to add to).
        ``lifetime``: counted from the service's current time (WS-RL's
        RequestedLifetimeDuration), so it may shorten the resource's life.
        """
        if sum(value is not None for value in (until, by, lifetime)) != 1:
            raise ValueError("give exactly one of until, by and lifetime")
        if by is not None:
            present = self.termination_time
            if present is None:
                raise UnableToSetTerminationTime(
                    f"job {self.resource_id} never terminates: there is no time to add to"
                )
            until = present + by
        if lifetime is not None:
            reply = self._call("SetTerminationTime", RequestedLifetimeDuration=lifetime)
        elif until is INFINITE:
            reply = self._call("SetTerminationTime", RequestedTerminationTime=xsd.Nil)
        else:
            assert isinstance(until, datetime)
            reply = self._call("SetTerminationTime", RequestedTerminationTime=as_utc(until))
        new_time = reply.find(q(RL, "NewTerminationTime"))
        current = reply.findtext(q(RL, "CurrentTime"))
        if new_time is None or current is None:
            raise TransportError("SetTerminationTime answered without the times", url=self.address)
        return TerminationChange(
            None if is_nil(new_time) else parse_datetime(new_time.text or ""),
            parse_datetime(current),
        )

    def destroy(self) -> None:
        """Destroy the resource now, and every result with it."""
        self._call("Destroy")

    # -- results ---------------------------------------------------------------------------

    def download(
        self,
        name: str,
        target: str | os.PathLike[str] | IO[bytes],
        *,
        resume: bool = False,
        progress: DownloadProgress | None = None,
    ) -> int:
        """Fetch the result ``name`` into ``target`` (a path or a binary file); return its size.

        The file is streamed; a path is written under ``{path}.part`` and renamed once
        complete. Without ``resume`` a failed download leaves nothing behind; with it, the
        ``.part`` stays and the next call continues it with an HTTP ``Range`` request
        (:mod:`wsrf_uws.client.download`). ``progress`` is called with (bytes so far,
        total or None) as data arrives. The Service's credentials go along (as HTTP Basic)
        only when the result's link is on the endpoint's own origin; a link to any other
        host is fetched without them.
        """
        result = self.state.result(name)
        if result is None:
            raise ResultUnavailable(f"job {self.resource_id} has no result {name!r}")
        if isinstance(target, (str, os.PathLike)):
            return fetch_to_path(
                self._channel, result.href, Path(target), resume=resume, progress=progress
            )
        return fetch_to_stream(self._channel, result.href, target, progress=progress)


def _qname(name: QNameLike) -> etree.QName:
    return name if isinstance(name, etree.QName) else etree.QName(name)


def _children(element: etree._Element) -> list[etree._Element]:
    return [child for child in element if isinstance(child.tag, str)]


def _phase_of(reply: etree._Element) -> str:
    return (reply.findtext(PHASE) or "").strip()
