"""One contract's WSDL, loaded with zeep, and the SOAP exchange every operation goes through.

zeep reads the published WSDL and its schemas, and builds each request from them:
the typed body, the WS-Addressing headers (``wsa:Action`` from the WSDL's
``wsam:Action``, a ``urn:uuid`` MessageID, ``wsa:To``) and, with credentials, the
WS-Security UsernameToken. The client then posts the envelope through zeep's transport
and reads the reply itself, because the resource properties are open content
(``xs:any``) that callers want as lxml elements, not as objects zeep guessed types for.
A fault in the reply becomes the typed exception of :mod:`wsrf_uws.client.errors`.

Credentials go where they are needed and nowhere else. SOAP messages carry them only
in the UsernameToken (PasswordText, or PasswordDigest when asked, which then keeps the
password off the wire); no request of the channel carries an HTTP ``Authorization`` of
its own accord (nor one from ``~/.netrc``). HTTP Basic is added only by
:meth:`Channel.credentials_for`, for a result download from the endpoint's own origin
(scheme, host and port): a result link may point anywhere, and the password must not
follow it to another host.

Parsed WSDL documents are cached per URL for the life of the process and never
expire: a process that must see a service's changed WSDL has to be restarted. Each URL
is fetched under its own lock, so one slow service does not hold up loading another's.
Across processes, a channel given a ``cache_folder`` keeps the documents on disk and
revalidates them with one conditional request (:mod:`wsrf_uws.client.wsdl_cache`).
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
import requests.adapters
import requests.auth
import zeep
import zeep.exceptions
import zeep.loader
import zeep.wsdl
import zeep.wsse.username
from lxml import etree
from urllib3.util.retry import Retry

from ..wire.names import RESOURCE_ID
from ..wire.namespaces import CORE, SOAP11, WSA, q
from .errors import ServiceUnavailable, TransportError, fault_from
from .wsdl_cache import DocumentCache

_UNAVAILABLE = {502, 503, 504}
_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\"()]+)")

# zeep ships py.typed but leaves most functions unannotated; reached through Any, its calls
# do not trip mypy --strict (no-untyped-call), and the types stop at this module's edge.
_Client: Any = zeep.Client
_Document: Any = zeep.wsdl.Document
_Transport: Any = zeep.Transport
_UsernameToken: Any = zeep.wsse.username.UsernameToken
_parse_xml: Any = zeep.loader.parse_xml

_documents: dict[str, Any] = {}
#: One lock per WSDL URL being fetched; _documents_lock guards both dicts and is never
#: held over the network.
_fetching: dict[str, threading.Lock] = {}
_documents_lock = threading.Lock()


def load_document(wsdl_url: str, transport: Any, *, cache_folder: Path | None = None) -> Any:
    """The parsed WSDL (a ``zeep.wsdl.Document``) at ``wsdl_url``, fetched once per process.

    Callers asking for the same URL at once wait for a single fetch; callers asking for
    other URLs do not wait at all. The cache never expires (see the module docstring).
    With ``cache_folder``, the first fetch of the process revalidates the documents kept
    there instead of fetching them all (:class:`~wsrf_uws.client.wsdl_cache.DocumentCache`).
    """
    with _documents_lock:
        document = _documents.get(wsdl_url)
        if document is not None:
            return document
        url_lock = _fetching.setdefault(wsdl_url, threading.Lock())
    with url_lock:
        with _documents_lock:
            document = _documents.get(wsdl_url)
        if document is not None:  # fetched while this caller waited for the URL's lock
            return document
        try:
            document = _fetch_document(wsdl_url, transport, cache_folder)
            with _documents_lock:
                _documents[wsdl_url] = document
        finally:
            with _documents_lock:
                # A caller still holding the old lock re-checks the cache; after a
                # failure, the next one simply tries again.
                _fetching.pop(wsdl_url, None)
    return document


def _fetch_document(wsdl_url: str, transport: Any, cache_folder: Path | None) -> Any:
    """Fetch and parse the WSDL at ``wsdl_url``; raise the client's exceptions on failure."""
    try:
        if cache_folder is None:
            return _Document(wsdl_url, transport, settings=zeep.Settings())
        cache = DocumentCache(cache_folder, wsdl_url)
        cache.revalidate(transport.session, timeout=transport.load_timeout)
        loader = _Transport(cache=cache, session=transport.session, timeout=transport.load_timeout)
        document = _Document(wsdl_url, loader, settings=zeep.Settings())
        cache.save()
        return document
    except requests.HTTPError as error:
        response = error.response
        status = None if response is None else response.status_code
        content = None if response is None else response.content
        raise TransportError(
            f"no WSDL at {wsdl_url}: HTTP {status} {_snippet(content)}",
            url=wsdl_url,
            status_code=status,
        ) from error
    except requests.RequestException as error:
        raise connection_error(error, wsdl_url) from error
    except zeep.exceptions.XMLSyntaxError as error:
        raise TransportError(f"{wsdl_url} does not answer a WSDL: {error}", url=wsdl_url) from error


class _NoCredentials(requests.auth.AuthBase):
    """The session's default auth: send no ``Authorization`` header at all.

    Being set, it also keeps ``requests`` from reading credentials out of ``~/.netrc``;
    a request that needs Basic (see :meth:`Channel.credentials_for`) passes its own.
    """

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers.pop("Authorization", None)
        return request


def origin(url: str) -> tuple[str, str, int] | None:
    """The origin (scheme, host, port) of ``url``, default ports filled in; None if it has
    no host or a port that is not a number."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        return None
    if port is None:
        port = {"http": 80, "https": 443}.get(scheme)
    if not parts.hostname or port is None:
        return None
    return scheme, parts.hostname, port


class Channel:
    """Builds, sends and answers the SOAP messages of one contract endpoint."""

    def __init__(
        self,
        *,
        wsdl_url: str,
        username: str | None = None,
        password: str | None = None,
        digest: bool = False,
        timeout: float = 30,
        cache_folder: Path | None = None,
    ) -> None:
        #: The HTTP session of every request; it sends no Authorization header by itself.
        self.session = requests.Session()
        self.session.auth = _NoCredentials()
        # A service that limits each address's request rate answers 429 before reading the
        # request: the same request may go again once Retry-After has passed (POSTs too).
        busy = Retry(
            total=None,
            connect=0,
            read=0,
            redirect=0,
            other=0,
            status=5,
            status_forcelist=(429,),
            allowed_methods=None,
            respect_retry_after_header=True,
            raise_on_status=False,
            backoff_factor=0.5,
        )
        for prefix in ("http://", "https://"):
            self.session.mount(prefix, requests.adapters.HTTPAdapter(max_retries=busy))
        self.timeout = timeout
        transport = _Transport(session=self.session, timeout=timeout, operation_timeout=timeout)
        wsse = None
        self._basic: requests.auth.HTTPBasicAuth | None = None
        if username is not None:
            wsse = _UsernameToken(username, password or "", use_digest=digest)
            # UTF-8, as the service reads it (RFC 7617); requests would encode str as Latin-1.
            self._basic = requests.auth.HTTPBasicAuth(
                username.encode("utf-8"),
                (password or "").encode("utf-8"),
            )
        self._origin = origin(wsdl_url)
        #: The zeep client on the published WSDL.
        self.client: Any = _Client(
            load_document(wsdl_url, transport, cache_folder=cache_folder),
            wsse=wsse,
            transport=transport,
        )
        self.wsdl_url = wsdl_url
        port = _first_port(self.client, wsdl_url)
        self.binding: Any = port.binding
        try:
            create = self.binding.get("createJob")
        except ValueError:
            raise TransportError(
                f"{wsdl_url} describes no createJob operation", url=wsdl_url
            ) from None
        #: The createJob wrapper element; its namespace is the contract's.
        self.create_element = etree.QName(create.input.body.qname)
        #: zeep's name for createJob's first parameter, the job description.
        self.jdl_parameter: str = create.input.body.type.elements[0][0]

    def credentials_for(self, url: str) -> requests.auth.AuthBase | None:
        """The HTTP Basic credentials to send with a GET of ``url``, or None for none.

        Only a URL with the endpoint's own scheme, host and port gets them: a result
        link may name any host, and the password must not go to a third party.
        """
        if self._basic is None or self._origin is None or origin(url) != self._origin:
            return None
        return self._basic

    @property
    def namespace(self) -> str:
        """The contract namespace (``urn:wsrf-uws:{contract}:v1`` for shipped contracts)."""
        return str(self.create_element.namespace)

    def message(
        self,
        operation: str,
        *args: Any,
        address: str,
        resource_id: str | None = None,
        **kwargs: Any,
    ) -> etree._Element:
        """The request envelope of ``operation`` to the resource ``resource_id`` at ``address``.

        ``args`` and ``kwargs`` are the operation's parameters, as zeep takes them.
        """
        headers = [] if resource_id is None else [resource_id_header(resource_id)]
        envelope: etree._Element = self.client.create_message(
            self.client.service, operation, *args, _soapheaders=headers, **kwargs
        )
        # zeep's create_message takes wsa:To from the WSDL's address, whatever the service
        # proxy it is given; the message goes to ``address``, so To must say so.
        for to in envelope.iter(q(WSA, "To")):
            to.text = address
        return envelope

    def send(self, operation: str, envelope: etree._Element, *, address: str) -> etree._Element:
        """Post ``envelope`` and return the reply's body element; raise a fault as its exception."""
        return self.send_bytes(operation, serialize(envelope), address=address)

    def send_bytes(self, operation: str, message: bytes, *, address: str) -> etree._Element:
        """Post an already serialized envelope; see :meth:`send`."""
        binding_operation = self.binding.get(operation)
        headers = {
            "Content-Type": 'text/xml; charset="utf-8"',
            "SOAPAction": f'"{binding_operation.soapaction or ""}"',
        }
        try:
            response = self.client.transport.post(address, message, headers)
        except requests.RequestException as error:
            raise connection_error(error, address) from error
        return self._reply(response, address)

    def call(
        self,
        operation: str,
        *args: Any,
        address: str,
        resource_id: str | None = None,
        **kwargs: Any,
    ) -> etree._Element:
        """:meth:`message` then :meth:`send`."""
        envelope = self.message(
            operation, *args, address=address, resource_id=resource_id, **kwargs
        )
        return self.send(operation, envelope, address=address)

    def _reply(self, response: requests.Response, address: str) -> etree._Element:
        status = response.status_code
        body = self._body(response.content)
        fault = None if body is None else body.find(q(SOAP11, "Fault"))
        error = None
        if fault is not None:
            error = fault_from(
                faultcode=_text(_child(fault, "faultcode")),
                faultstring=_text(_child(fault, "faultstring")),
                detail=_child(fault, "detail"),
            )
        if status == 413:
            # Refused before the service looked: by the endpoint (a fault) or the server.
            reason = str(error) if error is not None else _snippet(response.content)
            raise TransportError(
                f"the service refused the request as too large (HTTP 413): {reason}",
                url=address,
                status_code=status,
            )
        if error is not None:
            raise error
        if body is None:
            message = f"HTTP {status} from {address}, not a SOAP reply"
            snippet = _snippet(response.content)
            cls = ServiceUnavailable if status in _UNAVAILABLE else TransportError
            raise cls(
                f"{message}: {snippet}" if snippet else message, url=address, status_code=status
            )
        payload: etree._Element | None = next(
            (child for child in body if isinstance(child.tag, str)), None
        )
        if status != 200 or payload is None:
            raise TransportError(
                f"HTTP {status} from {address} with an empty SOAP body",
                url=address,
                status_code=status,
            )
        return payload

    def _body(self, content: bytes) -> etree._Element | None:
        """The soap:Body of a reply, or None if the reply is not a SOAP envelope."""
        if not content:
            return None
        try:
            envelope: etree._Element = _parse_xml(content, self.client.transport)
        except (zeep.exceptions.Error, etree.LxmlError):
            return None
        if envelope.tag != q(SOAP11, "Envelope"):
            return None
        return envelope.find(q(SOAP11, "Body"))


def _first_port(client: zeep.Client, wsdl_url: str) -> Any:
    for service in client.wsdl.services.values():
        for port in service.ports.values():
            return port
    raise TransportError(f"{wsdl_url} describes no service port", url=wsdl_url)


def _child(fault: etree._Element, local: str) -> etree._Element | None:
    # SOAP 1.1 fault children are unqualified; some stacks qualify them anyway.
    found = fault.find(local)
    return found if found is not None else fault.find(q(SOAP11, local))


def _text(element: etree._Element | None) -> str:
    return "" if element is None else (element.text or "").strip()


def resource_id_header(resource_id: str) -> etree._Element:
    """The ``uwscore:ResourceId`` reference parameter, as a SOAP header block."""
    header = etree.Element(RESOURCE_ID, nsmap={"uwscore": CORE, "wsa": WSA})
    header.set(q(WSA, "IsReferenceParameter"), "true")
    header.text = resource_id
    return header


def serialize(envelope: etree._Element) -> bytes:
    """The bytes of a request, as zeep would send them (UTF-8, with an XML declaration)."""
    return etree.tostring(envelope, xml_declaration=True, encoding="utf-8")


def connection_error(error: requests.RequestException, url: str) -> TransportError:
    """The client's exception for a failure of ``requests`` to get an answer from ``url``."""
    # requests' messages nest urllib3's; the operating system's reason is what people need.
    errno = _ERRNO.search(str(error))
    reason = errno.group(1).strip() if errno else str(error)
    if isinstance(error, requests.Timeout):
        return ServiceUnavailable(f"no answer from {url} within the timeout", url=url)
    if isinstance(error, requests.ConnectionError):
        return ServiceUnavailable(f"cannot connect to {url}: {reason}", url=url)
    return TransportError(f"request to {url} failed: {reason}", url=url)


def _snippet(content: bytes | str | None, limit: int = 200) -> str:
    if not content:
        return ""
    text = content.decode("utf-8", "replace") if isinstance(content, bytes) else content
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."
