"""Namespace URIs and action IRIs of the standards the service and its clients speak."""

from __future__ import annotations

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XSD = "http://www.w3.org/2001/XMLSchema"
XML = "http://www.w3.org/XML/1998/namespace"
XLINK = "http://www.w3.org/1999/xlink"

WSDL = "http://schemas.xmlsoap.org/wsdl/"
WSDL_SOAP = "http://schemas.xmlsoap.org/wsdl/soap/"
WSAW = "http://www.w3.org/2006/05/addressing/wsdl"
WSAM = "http://www.w3.org/2007/05/addressing/metadata"

#: WS-Addressing 1.0 (W3C) and the 2004/08 member submission older WS-RF stacks use.
WSA = "http://www.w3.org/2005/08/addressing"
WSA_2004 = "http://schemas.xmlsoap.org/ws/2004/08/addressing"

BF = "http://docs.oasis-open.org/wsrf/bf-2"
R = "http://docs.oasis-open.org/wsrf/r-2"
RP = "http://docs.oasis-open.org/wsrf/rp-2"
RL = "http://docs.oasis-open.org/wsrf/rl-2"
RPW = "http://docs.oasis-open.org/wsrf/rpw-2"
RLW = "http://docs.oasis-open.org/wsrf/rlw-2"

WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
WSS_TOKEN_PROFILE = (  # a namespace URI, not a secret
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"  # noqa: S105
)
PASSWORD_TEXT = WSS_TOKEN_PROFILE + "#PasswordText"
PASSWORD_DIGEST = WSS_TOKEN_PROFILE + "#PasswordDigest"

#: The project's core namespace and the UWS 1.1 job-document namespace.
CORE = "urn:wsrf-uws:core:v1"
UWS = "http://www.ivoa.net/xml/UWS/v1.0"

#: Dialect of the ErrorCode in every fault this service sends.
ERROR_DIALECT = CORE + ":error-codes"

#: Preferred prefixes, used whenever the binding writes XML.
PREFIXES = {
    "soap": SOAP11,
    "xsi": XSI,
    "xs": XSD,
    "xlink": XLINK,
    "wsa": WSA,
    "wsrfbf": BF,
    "wsrfr": R,
    "wsrfrp": RP,
    "wsrfrl": RL,
    "uwscore": CORE,
    "uws": UWS,
}


def q(namespace: str, local: str) -> str:
    """Clark notation ``{namespace}local``."""
    return f"{{{namespace}}}{local}"


# -- action IRIs (WS-RF 1.2: {wsdl tns}/{portType}/{message name}) ---------------------

_RPW_OPERATIONS = ("GetResourcePropertyDocument", "GetResourceProperty")
ACTIONS: dict[str, tuple[str, str]] = {
    name: (f"{RPW}/{name}/{name}Request", f"{RPW}/{name}/{name}Response")
    for name in (*_RPW_OPERATIONS, "GetMultipleResourceProperties")
}
ACTIONS["Destroy"] = (
    f"{RLW}/ImmediateResourceTermination/DestroyRequest",
    f"{RLW}/ImmediateResourceTermination/DestroyResponse",
)
ACTIONS["SetTerminationTime"] = (
    f"{RLW}/ScheduledResourceTermination/SetTerminationTimeRequest",
    f"{RLW}/ScheduledResourceTermination/SetTerminationTimeResponse",
)

#: Action of a fault reply when the WSDL gives the fault none of its own.
FAULT_ACTION = {WSA: f"{WSA}/soap/fault", WSA_2004: f"{WSA_2004}/fault"}


def contract_action(namespace: str, operation: str, *, response: bool = False) -> str:
    """Action IRI of a UWS-local operation: ``{namespace}/{operation}[Response]``.

    The contract namespaces are URNs, so the WS-Addressing default pattern (which
    joins with ``/``) gives ``urn:wsrf-uws:cea:v1/createJob``.
    """
    return f"{namespace}/{operation}{'Response' if response else ''}"
