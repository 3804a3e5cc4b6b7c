"""The element names of the contract that both the service and the client use (Clark notation)."""

from __future__ import annotations

from .namespaces import CORE, RL, UWS, q

#: The resource-property elements of a job resource.
JOB_STATE = q(CORE, "JobState")
PHASE = q(CORE, "Phase")
UWS_JOB = q(UWS, "job")
CURRENT_TIME = q(RL, "CurrentTime")
TERMINATION_TIME = q(RL, "TerminationTime")

#: The UWS 1.1 phases, in the order the standard lists them.
UWS_PHASES = (
    "PENDING",
    "QUEUED",
    "EXECUTING",
    "COMPLETED",
    "ERROR",
    "ABORTED",
    "UNKNOWN",
    "HELD",
    "SUSPENDED",
    "ARCHIVED",
)

#: The reference parameter that names a resource in its endpoint reference.
RESOURCE_ID = q(CORE, "ResourceId")
#: createJob's optional termination time, after the job description.
INITIAL_TERMINATION_TIME = q(CORE, "InitialTerminationTime")
