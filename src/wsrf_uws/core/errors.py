"""The errors of the UWS pattern, as exceptions a binding can map onto its own faults.

Each carries a stable ``code`` (used as the WS-BaseFaults ErrorCode) and says whether
the caller or the service is at fault.
"""

from __future__ import annotations

from datetime import datetime


class UwsError(Exception):
    """Base of every error the engine reports to a caller."""

    code = "uws-error"
    #: True when the request was wrong (SOAP ``Client`` fault), False when the service failed.
    client_fault = True

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


class ResourceUnknownError(UwsError):
    """No such resource for this caller: unknown, destroyed, or owned by somebody else."""

    code = "resource-unknown"

    def __init__(self, resource_id: str) -> None:
        super().__init__(f"no resource {resource_id!r} is known to this service")
        self.resource_id = resource_id


class ContractUnknownError(UwsError):
    """The request names a contract (JDL) that is not installed."""

    code = "contract-unknown"

    def __init__(self, contract: str, installed: list[str]) -> None:
        names = ", ".join(installed) or "none"
        super().__init__(f"no contract {contract!r} is installed (installed: {names})")
        self.contract = contract


class InvalidJobDescriptionError(UwsError):
    """The JDL document is not acceptable; nothing was created.

    ``line`` and ``column`` locate the problem in the document as received, when known.
    """

    code = "invalid-job-description"

    def __init__(self, reason: str, *, line: int | None = None, column: int | None = None) -> None:
        where = f" (line {line}" + (f", column {column}" if column else "") + ")" if line else ""
        super().__init__(f"invalid job description{where}: {reason}")
        self.reason = reason
        self.line = line
        self.column = column


class InvalidPhaseError(UwsError):
    """The operation is not allowed in the job's current phase."""

    code = "invalid-phase"

    def __init__(self, operation: str, phase: str) -> None:
        super().__init__(f"{operation} is not allowed while the job is {phase}")
        self.operation = operation
        self.phase = phase


class InvalidRunIdError(UwsError):
    """The client's label of a job (UWS 1.1 ``RUNID``) cannot be kept as given."""

    code = "invalid-run-id"


class TerminationTimeRejectedError(UwsError):
    """The requested termination time lies beyond what the service allows."""

    code = "termination-time-rejected"

    def __init__(self, requested: datetime, latest: datetime) -> None:
        super().__init__(
            f"termination time {requested.isoformat()} is later than the latest allowed, "
            f"{latest.isoformat()}"
        )
        self.requested = requested
        self.latest = latest


class UnableToSetTerminationTimeError(UwsError):
    """The termination time cannot be set as asked (for example nil where lifetimes are finite)."""

    code = "unable-to-set-termination-time"


class ResourceNotDestroyedError(UwsError):
    """The resource could not be destroyed; it still exists and keeps what it held."""

    code = "resource-not-destroyed"
    client_fault = False


class NotAuthenticatedError(UwsError):
    """The operation needs an authenticated caller."""

    code = "not-authenticated"


class QuotaExceededError(UwsError):
    """The caller asked for more than their quota allows."""

    code = "quota-exceeded"


class JobFailure(Exception):
    """Raised by a contract's ``run`` to end a job in ERROR with a message for the user.

    ``transient=True`` marks errors worth retrying (UWS errorSummary type ``transient``).
    """

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.transient = transient
