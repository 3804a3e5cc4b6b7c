"""The names the conformance kit judges the wire by, taken from the standards and DESIGN §2.

The kit keeps its own copy on purpose: it must not share constants with the service it
checks, or a wrong name in the service would be a wrong name in the kit too.
"""

from __future__ import annotations

from lxml import etree

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XLINK = "http://www.w3.org/1999/xlink"
WSDL = "http://schemas.xmlsoap.org/wsdl/"

#: WS-Addressing 1.0 (W3C) and the 2004/08 member submission.
WSA = "http://www.w3.org/2005/08/addressing"
WSA_2004 = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSAM = "http://www.w3.org/2007/05/addressing/metadata"
WSAW = "http://www.w3.org/2006/05/addressing/wsdl"

#: OASIS WS-ResourceFramework 1.2.
BF = "http://docs.oasis-open.org/wsrf/bf-2"
R = "http://docs.oasis-open.org/wsrf/r-2"
RP = "http://docs.oasis-open.org/wsrf/rp-2"
RL = "http://docs.oasis-open.org/wsrf/rl-2"
RPW = "http://docs.oasis-open.org/wsrf/rpw-2"
RLW = "http://docs.oasis-open.org/wsrf/rlw-2"

#: The UWS core namespace of DESIGN §2 and the UWS 1.1 job-document namespace.
CORE = "urn:wsrf-uws:core:v1"
UWS = "http://www.ivoa.net/xml/UWS/v1.0"

#: A namespace no service declares: for unknown headers, properties and JDL roots.
UNKNOWN = "urn:wsrf-uws:conformance:unknown"


def q(namespace: str, local: str) -> str:
    """Clark notation ``{namespace}local``."""
    return f"{{{namespace}}}{local}"


def contract_namespace(contract: str) -> str:
    """The namespace of a contract's own elements (DESIGN §2: ``urn:wsrf-uws:{contract}:v1``)."""
    return f"urn:wsrf-uws:{contract}:v1"


# Resource properties every contract exposes (DESIGN §2).
JOB_STATE = q(CORE, "JobState")
PHASE = q(CORE, "Phase")
UWS_JOB = q(UWS, "job")
CURRENT_TIME = q(RL, "CurrentTime")
TERMINATION_TIME = q(RL, "TerminationTime")
RESOURCE_ID = q(CORE, "ResourceId")
INITIAL_TERMINATION_TIME = q(CORE, "InitialTerminationTime")
STANDARD_PROPERTIES = (JOB_STATE, PHASE, UWS_JOB, CURRENT_TIME, TERMINATION_TIME)

# Faults (DESIGN §2).
RESOURCE_UNKNOWN = q(R, "ResourceUnknownFault")
INVALID_QNAME = q(RP, "InvalidResourcePropertyQNameFault")
UNABLE_TO_SET_TERMINATION = q(RL, "UnableToSetTerminationTimeFault")
TERMINATION_REJECTED = q(RL, "TerminationTimeChangeRejectedFault")
INVALID_JDL = q(CORE, "InvalidJobDescriptionFault")
INVALID_PHASE = q(CORE, "InvalidPhaseFault")
NOT_AUTHENTICATED = q(CORE, "NotAuthenticatedFault")

#: The UWS 1.1 phases; the final ones end a run.
PHASES = frozenset(
    {
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
    }
)
FINAL_PHASES = frozenset({"COMPLETED", "ERROR", "ABORTED", "ARCHIVED"})


def _rp_action(operation: str, message: str) -> str:
    return f"{RPW}/{operation}/{operation}{message}"


#: The standard action URIs of the WS-RF operations: (request, response).
WSRF_ACTIONS: dict[str, tuple[str, str]] = {
    name: (_rp_action(name, "Request"), _rp_action(name, "Response"))
    for name in (
        "GetResourceProperty",
        "GetMultipleResourceProperties",
        "GetResourcePropertyDocument",
    )
}
WSRF_ACTIONS["SetTerminationTime"] = (
    f"{RLW}/ScheduledResourceTermination/SetTerminationTimeRequest",
    f"{RLW}/ScheduledResourceTermination/SetTerminationTimeResponse",
)
WSRF_ACTIONS["Destroy"] = (
    f"{RLW}/ImmediateResourceTermination/DestroyRequest",
    f"{RLW}/ImmediateResourceTermination/DestroyResponse",
)


_PREFIXES = {
    SOAP11: "soapenv",
    WSA: "wsa",
    WSA_2004: "wsa04",
    CORE: "uwscore",
    RP: "wsrfrp",
    RL: "wsrfrl",
    R: "wsrfr",
    UWS: "uws",
    XLINK: "xlink",
}


def short(tag: str | None) -> str:
    """A Clark name with a familiar prefix, for messages (``uwscore:Phase``)."""
    if not tag:
        return "nothing"
    name = etree.QName(tag)
    prefix = _PREFIXES.get(name.namespace or "")
    return f"{prefix}:{name.localname}" if prefix else tag
