"""Everything the binding needs from Spyne 2.14, and every workaround it takes, in one place.

Spyne carries the SOAP 1.1 transport: it reads the HTTP request (with its size limit),
parses the envelope with a hardened parser, splits headers from the body, routes the
body element to an operation, catches what the operation raises and answers faults
with HTTP 500. The binding keeps the *contract*: it validates each body against the
published schemas, writes every reply element and every fault itself, and serves the
published WSDL instead of Spyne's generated one. The workarounds, each pinned by
``tests/soap/test_spyne_compat.py``:

1. Python 3.12+: Spyne's vendored ``six`` registers a meta-path importer without
   ``find_spec``, so ``spyne.util.six.moves`` cannot be imported; a small finder is
   installed before Spyne is (arskom/spyne#700). On 3.13 ``import cgi`` needs the
   ``legacy-cgi`` distribution, a dependency of this package there (#712).
2. Routing: Spyne keys operations by ``{app tns}name`` and ignores the namespace of
   the body element, so ``<wsrfrp:GetResourceProperty>`` would not be found. The
   protocol routes on the body element's full QName through the endpoint's table.
3. Bodies and replies are lxml elements as they are on the wire: Spyne's object
   mapping cannot express bare ``xs:any`` content (#661) nor a fault ``detail`` holding
   a foreign element (#582), so both directions bypass it.
4. Hardening: the envelope is parsed by :func:`~wsrf_uws.soap.incoming.parse_envelope`,
   not by Spyne: a DOCTYPE is refused (SOAP 1.1 forbids one, and an unresolved entity
   used to crash validation), the charset is UTF-8 or UTF-16 (Spyne decoded with any
   codec the client named, and a bad byte or an unknown name was an internal error),
   namespace declarations and attributes are counted, and SOAP-encoding ``href``
   resolution, which recursed without bound on a self-reference, is switched off.
   ``multipart/*`` bodies (MTOM, SwA) are refused with 415 before Spyne's MIME code
   sees them: it re-parsed the SOAP part with lxml's default parser, which expands
   entities, and this service publishes no MTOM.
5. Faults: Spyne logs every client fault with a traceback and answers
   ``ResourceNotFound`` with HTTP 404; the binding's faults are HTTP 500 (WS-I BP 1.1)
   except an oversized request (413) and a multipart one (415, WS-I BP 1.1 R1115), and
   are logged by the binding.
6. Spyne's forced garbage collection once a second is switched off (a GIL stall of tens
   of milliseconds that showed in every request's p99).
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import logging
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Protocol

from lxml import etree

from ..wire.namespaces import SOAP11
from .faults import RequestError
from .incoming import XmlLimits, parse_envelope


class _SixMovesLoader(importlib.abc.Loader):
    def __init__(self, importer: Any) -> None:
        self.importer = importer

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module: ModuleType = self.importer.load_module(spec.name)
        return module

    def exec_module(self, module: ModuleType) -> None:
        """The legacy importer already executed the module in ``create_module``."""


class _SixMovesFinder(importlib.abc.MetaPathFinder):
    """Serve ``spyne.util.six.moves.*`` through six's own importer, which lacks ``find_spec``."""

    def find_spec(
        self, fullname: str, path: Any = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith("spyne.util.six.moves"):
            return None
        six = sys.modules.get("spyne.util.six")
        importer = getattr(six, "_importer", None)
        if importer is None or fullname not in importer.known_modules:
            return None
        return importlib.util.spec_from_loader(fullname, _SixMovesLoader(importer))


def install_import_shim() -> None:
    """Make Spyne 2.14 importable on Python 3.12 and later (idempotent)."""
    if sys.version_info >= (3, 12) and not any(
        isinstance(finder, _SixMovesFinder) for finder in sys.meta_path
    ):
        sys.meta_path.insert(0, _SixMovesFinder())


install_import_shim()

# Spyne must be imported after the shim.
from spyne import AnyXml, Application, Fault, ServiceBase, rpc  # noqa: E402
from spyne import const as spyne_const  # noqa: E402
from spyne.error import RequestNotAllowed, RequestTooLongError  # noqa: E402
from spyne.protocol.soap import Soap11  # noqa: E402
from spyne.server.wsgi import WsgiApplication  # noqa: E402

SOAP_ENV = SOAP11

# Spyne logs each client fault with a traceback, and each malformed request with its
# whole text; the binding logs one line per request itself.
for _name in (
    "spyne.application.client",
    "spyne.protocol.xml",
    "spyne.protocol.soap.soap11.invalid",
):
    logging.getLogger(_name).setLevel(logging.CRITICAL)
logging.getLogger("spyne").setLevel(logging.WARNING)

# Spyne runs a full gc.collect() at the end of a request at most once a second, holding
# the GIL for 20-35 ms with a service's objects loaded: a stall every second for every
# thread. Python's own generational collector is enough.
spyne_const.MIN_GC_INTERVAL = math.inf

#: Spyne's own client fault codes → the binding's ErrorCode.
_SPYNE_CODES = {
    "Client.XMLSyntaxError": "malformed-xml",
    "Client.DoctypeForbidden": "doctype-forbidden",
    "Client.UnknownOperation": "unknown-operation",
    "Client.ResourceNotFound": "unknown-operation",
    "Client.NotSoap11": "not-soap",
    "Client.SoapError": "not-soap",
    "Client.EmptyBody": "empty-body",
    "Client.RequestNotAllowed": "method-not-allowed",
    "Client.InvalidRequest": "invalid-request",
}


@dataclass
class Exchange:
    """One request as the binding sees it: the raw parts Spyne has split apart."""

    #: The body's first child, or None for an empty body.
    body: etree._Element | None
    #: The header blocks, in order.
    headers: list[etree._Element]
    #: The WSGI environment of the HTTP request.
    environ: dict[str, Any]


@dataclass
class Reply:
    """What an operation answers: the body element and the reply's ``soap:Header``."""

    body: etree._Element
    header: etree._Element | None


class FaultReply(Protocol):
    """A fault as the binding writes it."""

    faultcode: str  # "Client", "Server" or "MustUnderstand"
    faultstring: str
    detail: etree._Element | None
    http_status: int


class Endpoint(Protocol):
    """What the protocol needs from the binding's endpoint of one contract."""

    #: Request element (Clark notation) → operation name.
    operations: dict[str, str]

    def handle(self, operation: str, exchange: Exchange) -> Reply:
        """Run ``operation``; raise to answer a fault."""
        ...

    def fault(
        self, error: BaseException, exchange: Exchange | None
    ) -> tuple[Any, etree._Element | None]:
        """The fault reply for ``error`` (any exception) and the ``soap:Header`` to send with it."""
        ...


class _CarriedError(Fault):  # type: ignore[misc]
    """Carries the binding's own exception through Spyne's error handling untouched."""

    def __init__(self, error: BaseException) -> None:
        super().__init__("Client.Carried", str(error))
        self.error = error


def _binding_error(error: BaseException) -> BaseException:
    """Spyne's own faults (raised before any operation ran) as the binding's errors."""
    if isinstance(error, RequestTooLongError):
        return RequestError("request-too-large", "the request is too large", http_status=413)
    code = getattr(error, "faultcode", "")
    if code.startswith("Client"):
        reason = getattr(error, "faultstring", "") or str(error)
        return RequestError(_SPYNE_CODES.get(code, "invalid-request"), reason)
    return error


class WsrfSoap11(Soap11):  # type: ignore[misc]
    """Soap11 that routes by body QName and hands raw elements to and from the endpoint."""

    def __init__(self, endpoint: Endpoint, *, xml_limits: XmlLimits) -> None:
        super().__init__(validator=None, cleanup_namespaces=False)
        self.endpoint = endpoint
        self.xml_limits = xml_limits

    # -- input -----------------------------------------------------------------------

    def create_in_document(self, ctx: Any, charset: str | None = None) -> None:
        # Spyne's own version hands multipart bodies to its MIME code and parses with
        # whatever codec the client names; this one does neither (see the module notes).
        content_type = ctx.transport.get_request_content_type()
        if content_type is None or ctx.transport.get_request_method() != "POST":
            raise RequestNotAllowed(
                "You must issue a POST request with the Content-Type header properly set."
            )
        if content_type.strip().lower().startswith("multipart/"):
            raise _CarriedError(
                RequestError(
                    "unsupported-media-type",
                    "multipart (MTOM or SwA) requests are not accepted: this service "
                    "publishes no MTOM; send the envelope alone as text/xml",
                    http_status=415,
                )
            )
        try:
            root = parse_envelope(b"".join(ctx.in_string), charset=charset, limits=self.xml_limits)
        except RequestError as error:
            raise _CarriedError(error) from None
        # None instead of the id table: no SOAP-encoding href resolution.
        ctx.in_document = (root, None)

    def decompose_incoming_envelope(self, ctx: Any, message: Any = None) -> None:
        root, _ = ctx.in_document
        body = root.find(f"{{{SOAP_ENV}}}Body")
        if root.tag != f"{{{SOAP_ENV}}}Envelope" or body is None:
            raise Fault("Client.NotSoap11", "the request is not a SOAP 1.1 envelope with a Body")
        children = [child for child in body if isinstance(child.tag, str)]
        if not children:
            raise Fault("Client.EmptyBody", "the SOAP Body is empty")
        if len(children) > 1:  # document/literal, one part per message (WS-I BP 1.1)
            raise Fault("Client.InvalidRequest", "the SOAP Body must hold exactly one element")
        # Spyne's own decomposition finds the parts again with two XPath queries and
        # validates nothing here (the binding validates the body itself).
        header = root.find(f"{{{SOAP_ENV}}}Header")
        ctx.in_document = root
        ctx.in_header_doc = [] if header is None else list(header)
        ctx.in_body_doc = children[0]
        ctx.method_request_string = children[0].tag

    def get_call_handles(self, ctx: Any) -> list[Any]:
        operation = self.endpoint.operations.get(ctx.method_request_string)
        if operation is None:
            raise Fault(
                "Client.UnknownOperation",
                f"this endpoint has no operation for {ctx.method_request_string}",
            )
        key = f"{{{self.app.interface.get_tns()}}}{operation}"
        handles: list[Any] = self.app.interface.service_method_map.get(key, [])
        return handles

    def deserialize(self, ctx: Any, message: Any) -> None:
        self.event_manager.fire_event("before_deserialize", ctx)
        ctx.in_object = ctx.in_body_doc  # bare: the one argument itself
        self.event_manager.fire_event("after_deserialize", ctx)

    # -- output ----------------------------------------------------------------------

    def serialize(self, ctx: Any, message: Any) -> None:
        self.event_manager.fire_event("before_serialize", ctx)
        if ctx.out_error is not None:
            error = ctx.out_error
            error = error.error if isinstance(error, _CarriedError) else _binding_error(error)
            fault, header = self.endpoint.fault(error, _exchange_of(ctx))
            ctx.transport.resp_code = _http_status(fault.http_status)
            body = _fault_element(fault)
        else:
            reply: Reply = ctx.out_object[0]
            body, header = reply.body, reply.header
        ctx.out_document = envelope(body, header)
        self.event_manager.fire_event("after_serialize", ctx)

    def fault_to_http_response_code(self, fault: Any) -> str:
        return _http_status(413 if isinstance(fault, RequestTooLongError) else 500)


_STATUS = {
    200: "200 OK",
    413: "413 Request Entity Too Large",
    415: "415 Unsupported Media Type",
    500: "500 Internal Server Error",
}


def _http_status(code: int) -> str:
    return _STATUS.get(code, f"{code} Error")


def envelope(body: etree._Element, header: etree._Element | None) -> etree._Element:
    """A SOAP 1.1 envelope around ``body``, with ``header`` (a ``soap:Header``) if given."""
    root = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV})
    if header is not None:
        root.append(header)
    etree.SubElement(root, f"{{{SOAP_ENV}}}Body").append(body)
    return root


def fault_envelope(fault: FaultReply, header: etree._Element | None) -> etree._Element:
    """A SOAP 1.1 envelope holding ``fault``."""
    return envelope(_fault_element(fault), header)


def _fault_element(fault: FaultReply) -> etree._Element:
    element = etree.Element(f"{{{SOAP_ENV}}}Fault")
    etree.SubElement(element, "faultcode").text = f"soap:{fault.faultcode}"
    etree.SubElement(element, "faultstring").text = fault.faultstring
    if fault.detail is not None:
        etree.SubElement(element, "detail").append(fault.detail)
    return element


def _operation(name: str, endpoint: Endpoint) -> Callable[..., Any]:
    def call(ctx: Any, body: etree._Element) -> Reply:
        exchange = Exchange(body=body, headers=ctx.in_header_doc, environ=ctx.transport.req_env)
        ctx.udc = _UserData(exchange)
        try:
            return endpoint.handle(name, exchange)
        except Exception as error:
            raise _CarriedError(error) from error

    call.__name__ = name
    method: Callable[..., Any] = rpc(
        AnyXml, _returns=AnyXml, _body_style="bare", _in_message_name=name
    )(call)
    return method


def _exchange_of(ctx: Any) -> Exchange | None:
    """The request as far as Spyne got with it (for the headers of a fault reply)."""
    known = getattr(ctx.udc, "exchange", None)
    if known is not None:
        return known  # type: ignore[no-any-return]
    if ctx.in_header_doc is None and ctx.in_body_doc is None:
        return None
    return Exchange(
        body=ctx.in_body_doc, headers=list(ctx.in_header_doc or ()), environ=ctx.transport.req_env
    )


class _UserData:
    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange


def spyne_application(
    *,
    endpoint: Endpoint,
    name: str,
    namespace: str,
    max_body_bytes: int,
    xml_limits: XmlLimits | None = None,
) -> WsgiApplication:
    """A Spyne WSGI application serving ``endpoint``'s operations.

    ``namespace`` and ``name`` only label Spyne's internal interface: the WSDL
    clients see is the published one, served by the binding, never Spyne's.
    ``xml_limits`` bound the complexity of a request document (default: :class:`XmlLimits`).
    """
    methods = {
        operation: _operation(operation, endpoint) for operation in endpoint.operations.values()
    }
    service = type(f"{name}Operations", (ServiceBase,), methods)
    limits = xml_limits or XmlLimits()
    protocol_in = WsrfSoap11(endpoint, xml_limits=limits)
    protocol_out = WsrfSoap11(endpoint, xml_limits=limits)
    application = Application(
        [service], tns=namespace, name=name, in_protocol=protocol_in, out_protocol=protocol_out
    )
    return WsgiApplication(application, max_content_length=max_body_bytes)
