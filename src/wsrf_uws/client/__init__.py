"""The Python client of wsrf-uws, on zeep: create, start, watch and collect jobs.

Example::

    from wsrf_uws.client import Service

    service = Service("http://127.0.0.1:8080/uws/steps")
    job = service.create(open("job.xml", "rb").read())
    job.start()
    state = job.wait(progress=lambda s: print(s.phase, s.fraction))
    job.download("step-1.txt", "step-1.txt")
    job.destroy()

- :class:`Service`: a contract endpoint; ``create`` a job or attach to one by its id.
- :class:`Job`: one resource; start, resume, properties, wait, extend, destroy, download.
- :class:`JobState`: the parsed ``uwscore:JobState`` property.
- :mod:`wsrf_uws.client.errors`: faults as typed exceptions, transport failures.

The names are exported lazily: the ``wsrf-uws`` command imports
:mod:`wsrf_uws.client.commands` for its parser, and ``wsrf-uws serve`` should not pay
for loading zeep and requests.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..wire.names import CURRENT_TIME, JOB_STATE, PHASE, TERMINATION_TIME, UWS_JOB
    from .errors import (
        ClientError,
        InvalidJobDescription,
        InvalidPhase,
        InvalidResourcePropertyQName,
        NotAuthenticated,
        QuotaExceeded,
        ResourceNotDestroyed,
        ResourceUnknown,
        ResultUnavailable,
        ServiceUnavailable,
        TerminationTimeChangeRejected,
        TransportError,
        UnableToSetTerminationTime,
        UwsFault,
    )
    from .job import Job, TerminationChange
    from .service import Service, endpoint_url, published_wsdl
    from .state import FINAL_PHASES, SETTLED_PHASES, JobError, JobState, Result, Step
    from .times import INFINITE

_EXPORTS = {
    "errors": (
        "ClientError",
        "InvalidJobDescription",
        "InvalidPhase",
        "InvalidResourcePropertyQName",
        "NotAuthenticated",
        "QuotaExceeded",
        "ResourceNotDestroyed",
        "ResourceUnknown",
        "ResultUnavailable",
        "ServiceUnavailable",
        "TerminationTimeChangeRejected",
        "TransportError",
        "UnableToSetTerminationTime",
        "UwsFault",
    ),
    "job": ("Job", "TerminationChange"),
    "wsrf_uws.wire.names": ("CURRENT_TIME", "JOB_STATE", "PHASE", "TERMINATION_TIME", "UWS_JOB"),
    "service": ("Service", "endpoint_url", "published_wsdl"),
    "state": ("FINAL_PHASES", "SETTLED_PHASES", "JobError", "JobState", "Result", "Step"),
    "times": ("INFINITE",),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    path = module if module.startswith("wsrf_uws.") else f".{module}"
    return getattr(importlib.import_module(path, __name__), name)


__all__ = [
    "CURRENT_TIME",
    "FINAL_PHASES",
    "INFINITE",
    "JOB_STATE",
    "PHASE",
    "SETTLED_PHASES",
    "TERMINATION_TIME",
    "UWS_JOB",
    "ClientError",
    "InvalidJobDescription",
    "InvalidPhase",
    "InvalidResourcePropertyQName",
    "Job",
    "JobError",
    "JobState",
    "NotAuthenticated",
    "QuotaExceeded",
    "ResourceNotDestroyed",
    "ResourceUnknown",
    "Result",
    "ResultUnavailable",
    "Service",
    "ServiceUnavailable",
    "Step",
    "TerminationChange",
    "TerminationTimeChangeRejected",
    "TransportError",
    "UnableToSetTerminationTime",
    "UwsFault",
    "endpoint_url",
    "published_wsdl",
]
