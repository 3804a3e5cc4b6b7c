"""The UWS pattern, binding-agnostic: job model, phases, lifetime, recovery, contracts.

Pure Python; nothing here speaks HTTP or SOAP, and nothing here depends on a store or
an executor: what the engine needs of them are the ports in :mod:`wsrf_uws.core.ports`.
"""

from .clock import Clock, SystemClock
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
from .service import ExecutionLimits, JobService, TerminationChange

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
]
