"""The VOSpace 2.1 faults, as exceptions that carry their fault name and HTTP status.

The REST binding answers a fault as ``text/plain``: the fault name exactly as the
standard spells it, a space, and a sentence saying what was wrong (VOSpace 2.1 §6,
"Notes"). The store raises the same exceptions, so a fault found deep in a transaction
reaches the client unchanged. The lead's UWS contract catches the space-level ones
(:class:`SpaceConflictError`, :class:`SpaceNotFoundError`, :class:`QuotaBelowUsageError`)
when it creates, extends or resizes a space.
"""

from __future__ import annotations

from ...core.model import ANONYMOUS


class VOSpaceFault(Exception):
    """Base of every fault: ``fault`` is the VOSpace fault name, ``status`` the HTTP status."""

    fault = "InternalFault"
    status = 500

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def body(self) -> str:
        """The text/plain entity body: the fault name, a space, the detail."""
        return f"{self.fault} {self.detail}\n"


class InternalFault(VOSpaceFault):
    """The service failed; the detail never carries a traceback."""


class NotAuthenticated(VOSpaceFault):
    """The credentials sent are wrong or incomplete (HTTP 401)."""

    fault = "NotAuthenticated"
    status = 401


class PermissionDenied(VOSpaceFault):
    """The caller may not do this to this node (HTTP 403)."""

    fault = "PermissionDenied"
    status = 403


class NodeNotFound(VOSpaceFault):
    """The target node does not exist, or its space has expired (HTTP 404)."""

    fault = "NodeNotFound"
    status = 404


class ContainerNotFound(VOSpaceFault):
    """A parent of the target does not exist (HTTP 404)."""

    fault = "ContainerNotFound"
    status = 404


class DuplicateNode(VOSpaceFault):
    """A node already exists at the target (HTTP 409)."""

    fault = "DuplicateNode"
    status = 409


class NodeBusy(VOSpaceFault):
    """Data is being written to the node by another transfer (HTTP 409)."""

    fault = "NodeBusy"
    status = 409


class InvalidURI(VOSpaceFault):
    """A node path or vos:// identifier is malformed or names another service (HTTP 400)."""

    fault = "InvalidURI"
    status = 400


class InvalidArgument(VOSpaceFault):
    """A document, parameter or property value is not acceptable (HTTP 400)."""

    fault = "InvalidArgument"
    status = 400


class TypeNotSupported(VOSpaceFault):
    """The xsi:type of a node to create is not one this service creates (HTTP 400)."""

    fault = "TypeNotSupported"
    status = 400


class LinkFound(VOSpaceFault):
    """A parent in the path is a LinkNode (HTTP 400)."""

    fault = "LinkFound"
    status = 400


class ProtocolNotSupported(VOSpaceFault):
    """None of the transfer protocols asked for is offered (HTTP 400 outside a job)."""

    fault = "ProtocolNotSupported"
    status = 400


class ViewNotSupported(VOSpaceFault):
    """The transfer asks for a view this service does not provide (HTTP 400 outside a job)."""

    fault = "ViewNotSupported"
    status = 400


class OperationNotSupported(VOSpaceFault):
    """The operation exists in VOSpace but this service does not offer it (HTTP 400)."""

    fault = "OperationNotSupported"
    status = 400


class QuotaExceeded(VOSpaceFault):
    """The data would not fit in the space's quota; nothing was kept (HTTP 413)."""

    fault = "QuotaExceeded"
    status = 413


class TooManyTransfers(VOSpaceFault):
    """The caller holds as many live transfer negotiations as it may (HTTP 429); nothing
    was recorded. ``retry_after`` is how many seconds until its oldest one expires."""

    fault = "QuotaExceeded"
    status = 429

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after

    @classmethod
    def of(cls, owner: str, *, held: int, limit: int, retry_after: int) -> TooManyTransfers:
        """The refusal for ``owner`` (``anonymous`` stands for every anonymous caller)."""
        if owner == ANONYMOUS:
            who = (
                f"anonymous callers hold {held} transfer negotiations together, the most "
                f"they may ({limit}); authenticate, or read public nodes at files/{{path}} "
                "without negotiating"
            )
        else:
            who = f"{owner!r} holds {held} transfer negotiations, the most one owner may ({limit})"
        return cls(
            f"{who}; the oldest of them expires in {retry_after} s",
            retry_after=retry_after,
        )


class RequestEntityTooLarge(VOSpaceFault):
    """A request body is larger than the service reads on that route (HTTP 413)."""

    fault = "RequestEntityTooLarge"
    status = 413


class ChecksumMismatch(VOSpaceFault):
    """The bytes received do not have the MD5 the client announced (HTTP 412)."""

    fault = "InvalidData"
    status = 412


class IncompleteUpload(VOSpaceFault):
    """The request body ended before its Content-Length (HTTP 400)."""

    fault = "InvalidData"
    status = 400


class MethodNotAllowed(VOSpaceFault):
    """The HTTP method is not defined for this resource (HTTP 405); ``allow`` lists the
    methods that are."""

    fault = "OperationNotSupported"
    status = 405

    def __init__(self, detail: str, *, allow: str) -> None:
        super().__init__(detail)
        self.allow = allow


# -- space management (what the UWS contract calls) -----------------------------------


class SpaceConflictError(DuplicateNode):
    """A space of that name exists and belongs to somebody else."""


class SpaceNotFoundError(NodeNotFound):
    """No space of that name exists."""


class QuotaBelowUsageError(InvalidArgument):
    """A new quota would be smaller than what the space already holds."""
