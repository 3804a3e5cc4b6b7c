"""SOAP 1.1 faults with a WS-BaseFaults ``detail``, one for every error a caller can meet.

Engine errors (:mod:`wsrf_uws.core.errors`) map onto the WS-RF faults and the
project's own; problems with the request itself (malformed XML, a DOCTYPE, a charset
other than UTF-8 or UTF-16, too many namespace declarations or attributes, an unknown
operation, a body the schema refuses, an oversized or multipart request) get a plain
``wsrfbf:BaseFault`` whose ErrorCode says which. Anything unexpected is a
``soap:Server`` fault that names a log reference, never a traceback.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from ..core import errors
from ..wire.namespaces import BF, CORE, ERROR_DIALECT, PREFIXES, RL, RP, R, q
from ..wire.times import format_utc

log = logging.getLogger(__name__)

#: Action of the faults the WSDL declares (every WS-BaseFaults fault of an operation).
DECLARED_FAULT_ACTION = "http://docs.oasis-open.org/wsrf/fault"


class RequestError(Exception):
    """Something wrong with the request itself, found by the binding.

    ``code`` becomes the ErrorCode; ``http_status`` is 413 for an oversized request and
    415 for a multipart one, 500 (WS-I Basic Profile 1.1) otherwise.
    """

    def __init__(
        self, code: str, description: str, *, http_status: int = 500, faultcode: str = "Client"
    ) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.http_status = http_status
        #: ``Client``, or ``MustUnderstand`` for a mandatory header the service ignores.
        self.faultcode = faultcode


class InvalidPropertyError(errors.UwsError):
    """GetResourceProperty named a property this resource does not have."""

    code = "invalid-resource-property-qname"

    def __init__(self, qname: str) -> None:
        super().__init__(f"this resource has no property {qname}")


@dataclass
class SoapFault:
    """A fault ready to be written: code, string, detail element, HTTP status, action."""

    faultcode: str
    faultstring: str
    detail: etree._Element | None
    http_status: int = 500
    #: None: the generic fault action of the client's addressing version.
    action: str | None = None


# The fault element answering each engine error (the first matching class wins).
_FAULTS: dict[type[errors.UwsError], str] = {
    errors.ResourceUnknownError: q(R, "ResourceUnknownFault"),
    InvalidPropertyError: q(RP, "InvalidResourcePropertyQNameFault"),
    errors.UnableToSetTerminationTimeError: q(RL, "UnableToSetTerminationTimeFault"),
    errors.TerminationTimeRejectedError: q(RL, "TerminationTimeChangeRejectedFault"),
    errors.ResourceNotDestroyedError: q(RL, "ResourceNotDestroyedFault"),
    errors.InvalidJobDescriptionError: q(CORE, "InvalidJobDescriptionFault"),
    errors.InvalidPhaseError: q(CORE, "InvalidPhaseFault"),
    errors.NotAuthenticatedError: q(CORE, "NotAuthenticatedFault"),
    errors.QuotaExceededError: q(CORE, "QuotaExceededFault"),
}


def base_fault(
    tag: str,
    *,
    now: datetime,
    description: str,
    code: str,
    originator: etree._Element | None = None,
) -> etree._Element:
    """A WS-BaseFaults element ``tag`` with Timestamp, Originator, ErrorCode, Description."""
    namespace = etree.QName(tag).namespace
    prefix = next((p for p, ns in PREFIXES.items() if ns == namespace), "fault")
    element = etree.Element(tag, nsmap={"wsrfbf": BF, prefix: namespace or BF})
    etree.SubElement(element, q(BF, "Timestamp")).text = format_utc(now)
    if originator is not None:
        element.append(originator)
    error_code = etree.SubElement(element, q(BF, "ErrorCode"), dialect=ERROR_DIALECT)
    error_code.text = code
    etree.SubElement(element, q(BF, "Description")).text = description
    return element


def fault_for(
    error: BaseException, *, now: datetime, originator: etree._Element | None = None
) -> SoapFault:
    """The fault that answers ``error``."""
    if isinstance(error, errors.UwsError):
        return _engine_fault(error, now=now, originator=originator)
    if isinstance(error, RequestError):
        detail = base_fault(
            q(BF, "BaseFault"),
            now=now,
            description=error.description,
            code=error.code,
            originator=originator,
        )
        return SoapFault(error.faultcode, error.description, detail, http_status=error.http_status)
    reference = uuid.uuid4().hex[:12]
    log.error("internal error, reference %s", reference, exc_info=error)
    description = f"internal error (reference {reference}); the service log has the details"
    detail = base_fault(
        q(BF, "BaseFault"),
        now=now,
        description=description,
        code="internal-error",
        originator=originator,
    )
    return SoapFault("Server", description, detail)


def _engine_fault(
    error: errors.UwsError, *, now: datetime, originator: etree._Element | None
) -> SoapFault:
    tag = next((tag for cls, tag in _FAULTS.items() if isinstance(error, cls)), q(BF, "BaseFault"))
    detail = base_fault(
        tag, now=now, description=error.description, code=error.code, originator=originator
    )
    if isinstance(error, errors.InvalidJobDescriptionError):
        etree.SubElement(detail, q(CORE, "Reason")).text = error.reason
        if error.line:
            etree.SubElement(detail, q(CORE, "Line")).text = str(error.line)
            if error.column:
                etree.SubElement(detail, q(CORE, "Column")).text = str(error.column)
    elif isinstance(error, errors.InvalidPhaseError):
        etree.SubElement(detail, q(CORE, "Operation")).text = error.operation
        etree.SubElement(detail, q(CORE, "Phase")).text = str(error.phase)
    declared = tag != q(BF, "BaseFault")
    return SoapFault(
        "Client" if error.client_fault else "Server",
        error.description,
        detail,
        action=DECLARED_FAULT_ACTION if declared else None,
    )
