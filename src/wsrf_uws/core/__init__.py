"""The UWS pattern, binding-agnostic: job model, phases, lifetime, recovery, contracts.

Pure Python; nothing here speaks HTTP or SOAP. The service and its helpers are
exported lazily, so the store and executors can import the model without pulling
in the service that depends on them.
"""

from typing import TYPE_CHECKING, Any

from .clock import Clock, SystemClock, format_utc
from .contract import Assessment, Contract, ExtraOperation, JobContext
from .errors import (
    ContractUnknownError,
    InvalidJobDescriptionError,
    InvalidPhaseError,
    JobFailure,
    NotAuthenticatedError,
    QuotaExceededError,
    ResourceNotDestroyedError,
    ResourceUnknownError,
    TerminationTimeRejectedError,
    UnableToSetTerminationTimeError,
    UwsError,
)
from .lifetime import DEFAULT, TerminationPolicy
from .model import (
    ANONYMOUS,
    ErrorSummary,
    ErrorType,
    Job,
    Progress,
    ProgressStep,
    Quote,
    Result,
    StepStatus,
)
from .phases import FINAL_PHASES, TRANSITIONS, Phase
from .quotas import OwnerLimits, Quotas
from .registry import ContractRegistry

if TYPE_CHECKING:
    from .service import ExecutionLimits, JobService, TerminationChange

_FROM_SERVICE = {"ExecutionLimits", "JobService", "TerminationChange"}


def __getattr__(name: str) -> Any:
    if name in _FROM_SERVICE:
        from . import service

        return getattr(service, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ANONYMOUS",
    "DEFAULT",
    "FINAL_PHASES",
    "TRANSITIONS",
    "Assessment",
    "Clock",
    "Contract",
    "ContractRegistry",
    "ContractUnknownError",
    "ErrorSummary",
    "ErrorType",
    "ExecutionLimits",
    "ExtraOperation",
    "InvalidJobDescriptionError",
    "InvalidPhaseError",
    "Job",
    "JobContext",
    "JobFailure",
    "JobService",
    "NotAuthenticatedError",
    "OwnerLimits",
    "Phase",
    "Progress",
    "ProgressStep",
    "QuotaExceededError",
    "Quotas",
    "Quote",
    "ResourceNotDestroyedError",
    "ResourceUnknownError",
    "Result",
    "StepStatus",
    "SystemClock",
    "TerminationChange",
    "TerminationPolicy",
    "TerminationTimeRejectedError",
    "UnableToSetTerminationTimeError",
    "UwsError",
    "format_utc",
]
