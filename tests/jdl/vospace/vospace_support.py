"""A real VOSpace endpoint on loopback, and the genuine schemas to hold its documents to.

:func:`running_endpoint` serves the web routes of the ``vospace`` contract, as the
contract gives them to the server (:class:`VOSpaceApplication` at ``/vospace``,
:class:`ResourceCaps` at ``/reg/resource-caps``), on waitress, port 0, with real users
(``alice``, ``bob``) checked by the project's Authenticator, a real SQLite store, and a
:class:`ManualClock` as the service's clock so expiry needs no sleeping. (The service
itself, over SOAP, is in ``test_vospace_soap.py``.)
"""

from __future__ import annotations

import http.client
import io
import secrets
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from lxml import etree
from waitress import wasyncore
from waitress.server import create_server

from wsrf_uws.accounts import UsersFile
from wsrf_uws.core.clock import SystemClock
from wsrf_uws.core.contract import ContractEnvironment
from wsrf_uws.jdl.vospace.contract import VospaceContract
from wsrf_uws.jdl.vospace.nodes import Space
from wsrf_uws.jdl.vospace.rest import VOSpaceApplication
from wsrf_uws.jdl.vospace.settings import VospaceSettings
from wsrf_uws.jdl.vospace.store import SpaceStore
from wsrf_uws.soap.identity import Authenticator
from wsrf_uws.testing import ManualClock
from wsrf_uws.waitress_compat import fix_expect_continue

VOS = "http://www.ivoa.net/xml/VOSpace/v2.0"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
UWS = "http://www.ivoa.net/xml/UWS/v1.0"
CORE = "ivo://ivoa.net/vospace/core#"
AUTHORITY = "example.org"
PASSWORDS = {"alice": "alice-secret", "bob": "bob-secret"}
ALICE = ("alice", PASSWORDS["alice"])
BOB = ("bob", PASSWORDS["bob"])

# tests/jdl/vospace/ -> tests/jdl/ -> tests/ -> the project -> its parent, which holds
# shared/ in development.
SHARED = Path(__file__).resolve().parents[4] / "shared"
SHARED_SCHEMAS = SHARED / "schemas"


@dataclass
class Endpoint:
    """A running endpoint: its URLs, store and clock."""

    base_url: str
    store: SpaceStore
    clock: ManualClock
    root: Path
    #: The WSGI application itself, for calls that must bypass HTTP.
    app: VOSpaceApplication

    @property
    def service(self) -> str:
        return f"{self.base_url}/vospace"

    def nodes(self, path: str = "") -> str:
        return f"{self.service}/nodes/{path}"

    @staticmethod
    def uri(path: str) -> str:
        return f"vos://{AUTHORITY}!vospace/{path}"

    @staticmethod
    def auth(user: str) -> tuple[str, str]:
        return (user, PASSWORDS[user])

    def space(
        self, owner: str = "alice", *, quota: int = 10_000, expires: datetime | None = None
    ) -> Space:
        """A new space with a random name."""
        return self.store.create_space(
            name="s" + secrets.token_hex(6), owner=owner, quota_bytes=quota, expires=expires
        )

    def partial_files(self) -> list[Path]:
        """Upload files under way or left behind (there should be none at rest)."""
        return sorted((self.root / "blobs").rglob("*.part"))

    def data_files(self, space: Space) -> int:
        """How many data files exist on disk for ``space`` (via the store's folder)."""
        row = (
            self.store._connection()
            .execute("SELECT folder FROM spaces WHERE name = ?", (space.name,))
            .fetchone()
        )
        if row is None:
            return 0
        folder = self.root / "blobs" / row["folder"]
        return sum(1 for _ in folder.iterdir()) if folder.exists() else 0


def _mount(routes: Mapping[str, Callable[..., Iterable[bytes]]]) -> Callable[..., Iterable[bytes]]:
    """Dispatch on the path prefix, as the server mounts the contract's applications."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        for prefix, target in routes.items():
            if path == prefix or path.startswith(prefix + "/"):
                return target(environ, start_response)
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not mounted\n"]

    return app


@contextmanager
def running_endpoint(
    root: Path, *, allow_anonymous: bool = True, **settings: Any
) -> Iterator[Endpoint]:
    """Serve, under ``root``, the web routes of a ``vospace`` contract built as the service
    builds it; ``settings`` are fields of its ``[vospace]`` section (``VospaceSettings``),
    ``allow_anonymous`` the service's setting of that name."""
    users = root / "users"
    for name, password in PASSWORDS.items():
        UsersFile.add(users, name, password)
    authenticator = Authenticator(
        users=UsersFile.load(users), allow_anonymous=allow_anonymous, clock=SystemClock()
    )
    clock = ManualClock()
    holder: dict[str, Callable[..., Iterable[bytes]]] = {}
    server = create_server(
        lambda environ, start: holder["app"](environ, start),
        host="127.0.0.1",
        port=0,
        threads=8,
    )
    fix_expect_continue(server)
    base = f"http://127.0.0.1:{server.effective_port}"
    contract = VospaceContract(
        ContractEnvironment(
            settings=VospaceSettings(**settings),
            data_dir=root,
            jobs_dir=root / "jobs",
            public_url=base,
            clock=clock,
            authority=AUTHORITY,
            allow_anonymous=allow_anonymous,
        )
    )
    routes = contract.web_routes(authenticate=authenticator.authenticate)
    holder["app"] = _mount({prefix: route.application for prefix, route in routes.items()})
    application = routes["/vospace"].application
    assert isinstance(application, VOSpaceApplication)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield Endpoint(base, contract.store, clock, root / "vospace", application)
    finally:
        # In the server's own thread, close the listener and every open (keep-alive)
        # connection: its loop ends when nothing is left to watch.
        server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
        thread.join(timeout=10)
        server.task_dispatcher.shutdown()
        contract.store.close()


def raw_request(
    url: str, method: str, path: str, *, headers: Mapping[str, str] | None = None
) -> tuple[int, bytes]:
    """Send ``method path`` byte for byte (no client-side normalisation of ``..``)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def node_schema(workdir: Path) -> etree.XMLSchema | None:
    """The genuine VOSpace 2.1 schema, with the document element of the REST binding
    declared (the schema defines the type vos:Node, the binding's documents are
    ``<vos:node>``); None when ../shared is absent."""
    genuine = SHARED_SCHEMAS / "ivoa-vospace-2.1" / "VOSpace-2.1.xsd"
    if not genuine.is_file():
        return None
    wrapper = workdir / "vospace-node-document.xsd"
    wrapper.write_text(
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" '
        f'targetNamespace="{VOS}" xmlns:vos="{VOS}" elementFormDefault="qualified">'
        f'<xs:include schemaLocation="{genuine.as_uri()}"/>'
        '<xs:element name="node" type="vos:Node"/></xs:schema>'
    )
    return etree.XMLSchema(etree.parse(str(wrapper)))


def genuine_validator() -> Any | None:
    """../shared/tools/validate_xml.Validator (VOSpace transfers, UWS, VOSI
    availability), or None when ../shared is absent."""
    tools = SHARED / "tools"
    if not (tools / "validate_xml.py").is_file():
        return None
    sys.path.insert(0, str(tools))
    try:
        from validate_xml import Validator
    finally:
        sys.path.remove(str(tools))
    return Validator()


def vos(name: str) -> str:
    return f"{{{VOS}}}{name}"


def node_xml(
    uri: str, xsi_type: str, properties: Mapping[str, str | None] = {}, **extra: str
) -> bytes:
    """A client's node document."""
    props = "".join(
        f'<vos:property uri="{key}" xsi:nil="true"/>'
        if value is None
        else f'<vos:property uri="{key}">{value}</vos:property>'
        for key, value in properties.items()
    )
    target = f"<vos:target>{extra['target']}</vos:target>" if "target" in extra else ""
    return (
        f'<vos:node xmlns:vos="{VOS}" xmlns:xsi="{XSI}" uri="{uri}" xsi:type="vos:{xsi_type}">'
        f"<vos:properties>{props}</vos:properties>{target}</vos:node>"
    ).encode()


def transfer_xml(
    target: str,
    direction: str,
    protocol: str,
    *,
    length: int | None = None,
    security_method: str | None = None,
) -> bytes:
    """A client's transfer document."""
    method = f'<vos:securityMethod uri="{security_method}"/>' if security_method else ""
    param = f'<vos:param uri="{CORE}length">{length}</vos:param>' if length is not None else ""
    return (
        f'<vos:transfer xmlns:vos="{VOS}" version="2.1"><vos:target>{target}</vos:target>'
        f"<vos:direction>{direction}</vos:direction>"
        f'<vos:protocol uri="{CORE}{protocol}">{method}</vos:protocol>{param}</vos:transfer>'
    ).encode()


def properties_of(document: bytes) -> dict[str, tuple[str, bool]]:
    """uri -> (value, readOnly) of a node document's own properties."""
    root = etree.fromstring(document)
    found = {}
    container = root.find(vos("properties"))
    for prop in container if container is not None else []:
        found[prop.get("uri")] = (prop.text or "", prop.get("readOnly") == "true")
    return found


def child_names(document: bytes) -> list[str]:
    """The names of the children a container document lists."""
    root = etree.fromstring(document)
    return [n.get("uri").rsplit("/", 1)[-1] for n in root.iterfind(f"{vos('nodes')}/{vos('node')}")]


# -- the client side of the REST binding ------------------------------------------------


def fault(answer: requests.Response) -> tuple[int, str]:
    """(HTTP status, VOSpace fault name) of an answer."""
    return answer.status_code, (answer.text.split() or [""])[0]


def create(
    ep: Endpoint, path: str, xsi_type: str, auth: Any = ALICE, **kw: Any
) -> requests.Response:
    """createNode: PUT a node document for ``path``."""
    return requests.put(
        ep.nodes(path), data=node_xml(ep.uri(path), xsi_type, **kw), auth=auth, timeout=10
    )


def negotiate(
    ep: Endpoint, path: str, direction: str, protocol: str, auth: Any = ALICE, **kw: Any
) -> tuple[str, bytes]:
    """POST a transfer to synctrans; returns (job URL, transfer details document)."""
    answer = requests.post(
        f"{ep.service}/synctrans",
        data=transfer_xml(ep.uri(path), direction, protocol, **kw),
        auth=auth,
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 303, answer.text
    location = answer.headers["Location"]
    assert location.endswith("/results/transferDetails")
    details = requests.get(location, auth=auth, timeout=10)
    assert details.status_code == 200
    return location.rsplit("/results/", 1)[0], details.content


def endpoint_url(details: bytes) -> str:
    """The first data URL a transfer document offers."""
    urls = [e.text for e in etree.fromstring(details).iter(vos("endpoint"))]
    assert urls, details.decode()
    return str(urls[0])


def upload(ep: Endpoint, path: str, data: bytes, auth: Any = ALICE) -> requests.Response:
    """Negotiate a push of ``path`` and PUT ``data`` to the data URL."""
    _, details = negotiate(ep, path, "pushToVoSpace", "httpput", auth=auth)
    return requests.put(endpoint_url(details), data=data, timeout=10)


# -- the application itself, without an HTTP server -------------------------------------


class CountingInput(io.BytesIO):
    """A request body that counts what the application reads of it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.taken = 0

    def read(self, size: int | None = -1) -> bytes:
        block = super().read(size)
        self.taken += len(block)
        return block


@dataclass
class AppAnswer:
    """What the application answered a :func:`call`, and how much of the body it read."""

    status: str
    headers: dict[str, str]
    body: bytes
    taken: int

    @property
    def code(self) -> int:
        return int(self.status.split()[0])

    @property
    def fault(self) -> tuple[int, str]:
        return self.code, (self.body.split() or [b""])[0].decode()


def call(
    ep: Endpoint,
    method: str,
    url: str,
    body: bytes = b"",
    *,
    declared: bool = True,
    auth: tuple[str, str] | None = ALICE,
    environ: Mapping[str, Any] | None = None,
) -> AppAnswer:
    """Call the application itself, as a WSGI server would but with what HTTP servers
    refuse or normalise (a short body, a broken header), or to count what it reads of a
    body (waitress reads whole bodies before the application sees them)."""
    stream = CountingInput(body)
    parts = urlsplit(url)
    request: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": parts.path,
        "QUERY_STRING": parts.query,
        "wsgi.input": stream,
        "wsgi.input_terminated": True,
    }
    if declared:
        request["CONTENT_LENGTH"] = str(len(body))
    if auth is not None:
        request["HTTP_AUTHORIZATION"] = requests.auth._basic_auth_str(*auth)
    request.update(environ or {})
    answered: list[tuple[str, list[tuple[str, str]]]] = []
    chunks = ep.app(request, lambda status, headers, *exc: answered.append((status, headers)))
    content = b"".join(chunks)
    status, headers = answered[0]
    return AppAnswer(status, dict(headers), content, stream.taken)
