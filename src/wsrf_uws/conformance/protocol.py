"""The pattern's messages, built by the kit itself (DESIGN §2 message shapes).

:class:`Endpoint` sends each operation of the pattern as one SOAP 1.1 request with
WS-Addressing headers, to the Address of an endpoint reference with its reference
parameters as header blocks; :mod:`.replies` reads what comes back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from lxml import etree

from .names import (
    CORE,
    INITIAL_TERMINATION_TIME,
    RESOURCE_ID,
    RL,
    RP,
    WSA,
    WSA_2004,
    WSRF_ACTIONS,
    XSI,
    contract_namespace,
    q,
    short,
)
from .outcomes import require
from .wire import (
    Addressing,
    Credentials,
    Reply,
    envelope,
    http_request,
    new_message_id,
    read_reply,
)

# -- endpoint references --------------------------------------------------------------------


@dataclass(frozen=True)
class EndpointReference:
    """A WS-Addressing endpoint reference: an Address and reference parameters."""

    address: str
    #: The WS-Addressing namespace the EPR was written in.
    namespace: str = WSA
    reference_parameters: tuple[etree._Element, ...] = ()

    @property
    def resource_id(self) -> str | None:
        """The text of the ``uwscore:ResourceId`` reference parameter."""
        for parameter in self.reference_parameters:
            if parameter.tag == RESOURCE_ID:
                return (parameter.text or "").strip()
        return None


def resource_reference(address: str, resource_id: str) -> EndpointReference:
    """The EPR DESIGN §2 describes: ``address`` plus a ResourceId reference parameter."""
    parameter = etree.Element(RESOURCE_ID, nsmap={"uwscore": CORE})
    parameter.text = resource_id
    return EndpointReference(address=address, reference_parameters=(parameter,))


def read_endpoint_reference(element: etree._Element) -> EndpointReference:
    """The EPR in a ``wsa:EndpointReference`` element (either addressing version)."""
    namespace = etree.QName(element).namespace or ""
    require(
        namespace in (WSA, WSA_2004),
        f"the endpoint reference {element.tag} is in no WS-Addressing namespace",
    )
    address = (element.findtext(q(namespace, "Address")) or "").strip()
    require(address, f"the endpoint reference has no {short(q(namespace, 'Address'))}")
    parameters = element.find(q(namespace, "ReferenceParameters"))
    found = () if parameters is None else tuple(p for p in parameters if isinstance(p.tag, str))
    return EndpointReference(address=address, namespace=namespace, reference_parameters=found)


# -- the endpoint ---------------------------------------------------------------------------


@dataclass
class Endpoint:
    """A contract endpoint as one caller sees it: its URL, credentials and actions."""

    url: str
    contract: str
    timeout: float
    credentials: Credentials | None = None
    #: Input action of each operation, as the WSDL declares it (see :func:`wsdl_actions`).
    actions: Mapping[str, str] = field(default_factory=dict)

    @property
    def namespace(self) -> str:
        """The contract's namespace."""
        return contract_namespace(self.contract)

    def reference(self, resource_id: str) -> EndpointReference:
        """An EPR for ``resource_id`` at this endpoint (for made-up or copied identifiers)."""
        return resource_reference(self.url, resource_id)

    def action(self, operation: str) -> str:
        """The request action of ``operation``: the WSDL's, the WS-RF standard, or the default."""
        if operation in self.actions:
            return self.actions[operation]
        if operation in WSRF_ACTIONS:
            return WSRF_ACTIONS[operation][0]
        return f"{self.namespace}/{operation}"

    def post(self, url: str, data: bytes, *, action: str) -> Reply:
        """POST a SOAP 1.1 message to ``url`` (SOAP 1.1 §6.1.1: text/xml and SOAPAction)."""
        reply = http_request(
            url,
            method="POST",
            data=data,
            headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{action}"'},
            credentials=self.credentials,
            timeout=self.timeout,
        )
        return read_reply(reply)

    def call(
        self,
        operation: str,
        body: etree._Element | None,
        *,
        epr: EndpointReference | None = None,
        namespace: str | None = None,
        message_id: str | None = None,
        is_reference_parameter: str | None = "true",
        must_understand: bool = False,
        extra_headers: Iterable[etree._Element] = (),
    ) -> Reply:
        """Send ``body`` as ``operation`` to ``epr`` (or the endpoint) and read the reply.

        ``namespace`` is the WS-Addressing version (default: the EPR's, else 1.0);
        ``message_id`` the MessageID to send (default: a fresh ``urn:uuid:``).
        """
        ns = namespace or (epr.namespace if epr is not None else WSA)
        to = epr.address if epr is not None else self.url
        sent_id = message_id or new_message_id()
        action = self.action(operation)
        addressing = Addressing(
            to=to,
            action=action,
            namespace=ns,
            message_id=sent_id,
            reference_parameters=epr.reference_parameters if epr is not None else (),
            is_reference_parameter=is_reference_parameter,
            must_understand=must_understand,
        )
        data = envelope(body, [*addressing.headers(), *extra_headers])
        reply = self.post(to, data, action=action)
        return Reply(reply.http_status, reply.envelope, request_message_id=sent_id)

    # -- the pattern's operations ------------------------------------------------------------

    def _element(self, local: str) -> etree._Element:
        return etree.Element(q(self.namespace, local), nsmap={"tns": self.namespace})

    def create_job(
        self,
        jdl: etree._Element,
        *,
        namespace: str = WSA,
        initial_termination_time: str | None = None,
    ) -> Reply:
        """createJob with ``jdl`` (and an InitialTerminationTime, if given)."""
        body = self._element("createJob")
        body.append(_copy(jdl))
        if initial_termination_time is not None:
            etree.SubElement(
                body, INITIAL_TERMINATION_TIME, nsmap={"uwscore": CORE}
            ).text = initial_termination_time
        return self.call("createJob", body, namespace=namespace)

    def start_job(self, epr: EndpointReference) -> Reply:
        """startJob."""
        return self.call("startJob", self._element("startJob"), epr=epr)

    def resume_job(self, epr: EndpointReference) -> Reply:
        """resumeJob."""
        return self.call("resumeJob", self._element("resumeJob"), epr=epr)

    def get_property(
        self,
        epr: EndpointReference,
        name: str,
        *,
        namespace: str | None = None,
        message_id: str | None = None,
        is_reference_parameter: str | None = "true",
        must_understand: bool = False,
        extra_headers: Iterable[etree._Element] = (),
    ) -> Reply:
        """GetResourceProperty of ``name`` (Clark notation); the options as :meth:`call`."""
        return self.call(
            "GetResourceProperty",
            property_request(name),
            epr=epr,
            namespace=namespace,
            message_id=message_id,
            is_reference_parameter=is_reference_parameter,
            must_understand=must_understand,
            extra_headers=extra_headers,
        )

    def get_properties(self, epr: EndpointReference, names: Iterable[str]) -> Reply:
        """GetMultipleResourceProperties of ``names``."""
        body = etree.Element(q(RP, "GetMultipleResourceProperties"), nsmap={"wsrfrp": RP})
        for index, name in enumerate(names):
            qname = etree.QName(name)
            prefix = f"p{index}"
            child = etree.SubElement(
                body, q(RP, "ResourceProperty"), nsmap={prefix: qname.namespace or ""}
            )
            child.text = f"{prefix}:{qname.localname}"
        return self.call("GetMultipleResourceProperties", body, epr=epr)

    def get_document(self, epr: EndpointReference) -> Reply:
        """GetResourcePropertyDocument."""
        body = etree.Element(q(RP, "GetResourcePropertyDocument"), nsmap={"wsrfrp": RP})
        return self.call("GetResourcePropertyDocument", body, epr=epr)

    def set_termination_time(self, epr: EndpointReference, when: str) -> Reply:
        """SetTerminationTime to ``when`` (an xs:dateTime text)."""
        body = etree.Element(q(RL, "SetTerminationTime"), nsmap={"wsrfrl": RL, "xsi": XSI})
        etree.SubElement(body, q(RL, "RequestedTerminationTime")).text = when
        return self.call("SetTerminationTime", body, epr=epr)

    def destroy(self, epr: EndpointReference) -> Reply:
        """Destroy."""
        body = etree.Element(q(RL, "Destroy"), nsmap={"wsrfrl": RL})
        return self.call("Destroy", body, epr=epr)


def property_request(name: str) -> etree._Element:
    """A GetResourceProperty body naming ``name`` as a QName with a declared prefix."""
    qname = etree.QName(name)
    body = etree.Element(q(RP, "GetResourceProperty"), nsmap={"wsrfrp": RP, "p": qname.namespace})
    body.text = f"p:{qname.localname}"
    return body


def _copy(element: etree._Element) -> etree._Element:
    return etree.fromstring(etree.tostring(element))
