"""What the client raises: SOAP faults as typed exceptions, and transport failures.

Every exception derives from :class:`ClientError`. A SOAP fault from the service is a
:class:`UwsFault`; its class is chosen by the WS-BaseFaults element in the fault's
``detail`` (``wsrfr:ResourceUnknownFault`` gives :class:`ResourceUnknown`, and so on),
so callers catch what they can handle and let the rest through. Failures below SOAP
(no connection, a timeout, an HTTP error without a fault) are :class:`TransportError`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from lxml import etree

from ..wire.namespaces import BF, CORE, RL, RP, R, q


class ClientError(Exception):
    """Base of everything the wsrf-uws client raises."""


class UwsFault(ClientError):
    """A SOAP fault answered by the service.

    ``code`` is the local name of the faultcode (``Client``: the request was wrong;
    ``Server``: the service failed), ``error_code`` the WS-BaseFaults ErrorCode
    (``resource-unknown``, ...), ``description`` the human-readable Description (or the
    faultstring) and ``detail`` the fault's element inside ``<detail>``, when there is one.
    """

    #: Clark name of the ``detail`` element this class stands for (empty: any other).
    element: ClassVar[str] = ""

    def __init__(
        self,
        description: str,
        *,
        code: str = "",
        error_code: str = "",
        detail: etree._Element | None = None,
    ) -> None:
        super().__init__(description)
        self.description = description
        self.code = code
        self.error_code = error_code
        self.detail = detail

    def _child_text(self, local: str) -> str | None:
        if self.detail is None:
            return None
        found = self.detail.find(q(CORE, local))
        return None if found is None else (found.text or "").strip()


class ResourceUnknown(UwsFault):
    """No such resource: never created, destroyed, expired, or not the caller's."""

    element = q(R, "ResourceUnknownFault")


class InvalidJobDescription(UwsFault):
    """The job description was refused; nothing was created.

    ``reason`` says why. ``message_line`` (and ``column``) are where the service found
    the problem, counted in the createJob request; ``line`` is the same place counted in
    the caller's own document, when the client could work it out (else None). Also
    raised, with code ``Client``, ErrorCode ``not-well-formed`` and no detail, before
    anything is sent when the document is not well-formed XML.
    """

    element = q(CORE, "InvalidJobDescriptionFault")

    def __init__(self, description: str, **kwargs: Any) -> None:
        super().__init__(description, **kwargs)
        self.reason = self._child_text("Reason") or description
        self.message_line = _number(self._child_text("Line"))
        self.column = _number(self._child_text("Column"))
        self.line: int | None = self.message_line

    def locate(self, *, message_line: int, document_line: int) -> None:
        """Count :attr:`line` in the caller's document, whose root element starts on its
        ``document_line`` and was sent on ``message_line`` of the request."""
        if self.message_line is None or self.message_line < message_line:
            self.line = None
        else:
            self.line = self.message_line - message_line + document_line


class InvalidPhase(UwsFault):
    """The operation is not allowed in the job's phase (``phase``), e.g. starting an ended job."""

    element = q(CORE, "InvalidPhaseFault")

    @property
    def phase(self) -> str | None:
        return self._child_text("Phase")

    @property
    def operation(self) -> str | None:
        return self._child_text("Operation")


class InvalidResourcePropertyQName(UwsFault):
    """The resource has no property of the name asked for."""

    element = q(RP, "InvalidResourcePropertyQNameFault")


class UnableToSetTerminationTime(UwsFault):
    """The service cannot set the termination time asked for (e.g. nil where not allowed)."""

    element = q(RL, "UnableToSetTerminationTimeFault")


class TerminationTimeChangeRejected(UwsFault):
    """The service refuses the termination time asked for (e.g. beyond its maximum lifetime)."""

    element = q(RL, "TerminationTimeChangeRejectedFault")


class ResourceNotDestroyed(UwsFault):
    """The service could not destroy the resource."""

    element = q(RL, "ResourceNotDestroyedFault")


class NotAuthenticated(UwsFault):
    """Missing, wrong, stale or replayed credentials."""

    element = q(CORE, "NotAuthenticatedFault")


class QuotaExceeded(UwsFault):
    """The caller has used up what the service allows."""

    element = q(CORE, "QuotaExceededFault")


_FAULT_CLASSES: dict[str, type[UwsFault]] = {
    cls.element: cls
    for cls in (
        ResourceUnknown,
        InvalidJobDescription,
        InvalidPhase,
        InvalidResourcePropertyQName,
        UnableToSetTerminationTime,
        TerminationTimeChangeRejected,
        ResourceNotDestroyed,
        NotAuthenticated,
        QuotaExceeded,
    )
}


def fault_from(*, faultcode: str, faultstring: str, detail: etree._Element | None) -> UwsFault:
    """The typed exception for a SOAP fault; ``detail`` is the ``<detail>`` element."""
    element = None
    if detail is not None:
        element = next((child for child in detail if isinstance(child.tag, str)), None)
    cls = _FAULT_CLASSES.get(element.tag, UwsFault) if element is not None else UwsFault
    description = faultstring
    error_code = ""
    if element is not None:
        description = _text(element, q(BF, "Description")) or faultstring
        error_code = _text(element, q(BF, "ErrorCode")) or ""
    return cls(
        description,
        code=faultcode.rpartition(":")[2].strip(),
        error_code=error_code,
        detail=element,
    )


def _number(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None


def _text(element: etree._Element, tag: str) -> str | None:
    found = element.find(tag)
    return None if found is None else (found.text or "").strip()


class TransportError(ClientError):
    """The request did not get a SOAP answer: an HTTP error, or a reply that is not SOAP.

    ``status_code`` is the HTTP status when there was a response; ``url`` what was asked.
    """

    def __init__(self, message: str, *, url: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.status_code = status_code


class ServiceUnavailable(TransportError):
    """The service could not be reached: connection refused or reset, a timeout, HTTP 502-504."""


class ResultUnavailable(ClientError):
    """The job has no result of that name, or the service no longer serves it."""
