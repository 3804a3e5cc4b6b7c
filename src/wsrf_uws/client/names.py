"""The element names the client reads and writes, in Clark notation, all in one place.

They name the same elements as the service's own constants (``soap.properties``,
``soap.addressing``, ``soap.endpoint``), and are built the same way, from the namespace
URIs of :mod:`wsrf_uws.soap.namespaces`. The client cannot import those modules
(they load Spyne), only ``soap.namespaces``, so the names are spelled here once more;
``tests/test_client.py`` checks that both sides agree.
"""

from __future__ import annotations

from ..soap.namespaces import CORE, RL, UWS, q

#: The resource-property elements of a job resource.
JOB_STATE = q(CORE, "JobState")
PHASE = q(CORE, "Phase")
UWS_JOB = q(UWS, "job")
CURRENT_TIME = q(RL, "CurrentTime")
TERMINATION_TIME = q(RL, "TerminationTime")

#: The reference parameter that names a resource in its endpoint reference.
RESOURCE_ID = q(CORE, "ResourceId")
#: createJob's optional termination time, after the job description.
INITIAL_TERMINATION_TIME = q(CORE, "InitialTerminationTime")
