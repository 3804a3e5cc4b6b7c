"""Our real service behind one deliberately broken WSGI wrapper, to prove the kit catches it.

The application is assembled as ``wsrf-uws serve`` assembles it (``build_service``,
``build_application``, waitress), then wrapped by the middleware ``--variant`` names:

| variant | the defect |
|---|---|
| ``no-relates-to`` | every SOAP reply loses its ``wsa:RelatesTo`` |
| ``fake-destroy`` | Destroy answers DestroyResponse and destroys nothing |
| ``shared-owner`` | every HTTP Basic caller is taken for one user (``--shared-user``) |
| ``bare-href`` | the served schemas declare result links as a bare ``href`` |

Run: ``python broken_server.py --variant V --data DIR [--shared-user alice]`` (the shared
user's password from ``$WSRF_UWS_PASSWORD``). It prints ``broken_server ready at URL``
once it serves; SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import signal
import socket
import sys
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from lxml import etree
from waitress.server import create_server

from wsrf_uws.runtime import build_service
from wsrf_uws.server import build_application
from wsrf_uws.settings import Settings
from wsrf_uws.wire.parsing import safe_parser

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
WSA = "http://www.w3.org/2005/08/addressing"
WSA_2004 = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
RL = "http://docs.oasis-open.org/wsrf/rl-2"
XSD = "http://www.w3.org/2001/XMLSchema"
XLINK = "http://www.w3.org/1999/xlink"
DESTROY_RESPONSE_ACTION = (
    "http://docs.oasis-open.org/wsrf/rlw-2/ImmediateResourceTermination/DestroyResponse"
)

App = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
READY = "broken_server ready at"


def buffered(app: App, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    """Run ``app`` and collect its whole answer."""
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        seen["status"], seen["headers"] = status, headers
        return lambda data: None

    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return seen["status"], seen["headers"], body


def answer(
    start_response: Callable[..., Any], status: str, headers: list[tuple[str, str]], body: bytes
) -> list[bytes]:
    kept = [(k, v) for k, v in headers if k.lower() != "content-length"]
    start_response(status, [*kept, ("Content-Length", str(len(body)))])
    return [body]


def drop_relates_to(app: App) -> App:
    """Every SOAP reply without wsa:RelatesTo (either addressing version)."""

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        status, headers, body = buffered(app, environ)
        if environ["REQUEST_METHOD"] == "POST" and body.lstrip().startswith(b"<"):
            root = etree.fromstring(body, safe_parser())
            for namespace in (WSA, WSA_2004):
                for header in root.iter(f"{{{namespace}}}RelatesTo"):
                    header.getparent().remove(header)
            body = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
        return answer(start_response, status, headers, body)

    return wrapped


def fake_destroy(app: App) -> App:
    """Destroy answers a well-formed DestroyResponse and leaves the resource alone."""

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ["REQUEST_METHOD"] != "POST":
            return app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        request = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(request)
        try:
            root = etree.fromstring(request, safe_parser())
        except etree.XMLSyntaxError:
            return app(environ, start_response)
        if root.find(f"{{{SOAP}}}Body/{{{RL}}}Destroy") is None:
            return app(environ, start_response)
        envelope = etree.Element(f"{{{SOAP}}}Envelope", nsmap={"soap": SOAP, "wsa": WSA})
        header = etree.SubElement(envelope, f"{{{SOAP}}}Header")
        etree.SubElement(header, f"{{{WSA}}}Action").text = DESTROY_RESPONSE_ACTION
        etree.SubElement(header, f"{{{WSA}}}MessageID").text = f"urn:uuid:{uuid.uuid4()}"
        message_id = root.findtext(f"{{{SOAP}}}Header/{{{WSA}}}MessageID")
        if message_id:
            etree.SubElement(header, f"{{{WSA}}}RelatesTo").text = message_id
        body = etree.SubElement(envelope, f"{{{SOAP}}}Body")
        etree.SubElement(body, f"{{{RL}}}DestroyResponse", nsmap={"wsrfrl": RL})
        data = etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")
        return answer(start_response, "200 OK", [("Content-Type", "text/xml; charset=utf-8")], data)

    return wrapped


def shared_owner(app: App, *, user: str, password: str) -> App:
    """Every HTTP Basic caller is taken for ``user``: owners are not told apart."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode()

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("HTTP_AUTHORIZATION", "").startswith("Basic "):
            environ["HTTP_AUTHORIZATION"] = f"Basic {token}"
        return app(environ, start_response)

    return wrapped


def bare_href(app: App) -> App:
    """The served schemas declare ``href`` in no namespace wherever they used xlink:href."""

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if environ["REQUEST_METHOD"] != "GET" or not path.startswith("/schemas/"):
            return app(environ, start_response)
        status, headers, body = buffered(app, environ)
        if status.startswith("200"):
            root = etree.fromstring(body, safe_parser())
            for attribute in root.iter(f"{{{XSD}}}attribute"):
                prefix, _, local = (attribute.get("ref") or "").rpartition(":")
                if local == "href" and attribute.nsmap.get(prefix or None) == XLINK:
                    del attribute.attrib["ref"]
                    attribute.set("name", "href")
                    attribute.set("type", "xs:anyURI")
            body = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
        return answer(start_response, status, headers, body)

    return wrapped


class Stop(SystemExit):
    """SIGTERM, raised in waitress's loop (which lets only SystemExit out)."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--variant",
        required=True,
        choices=["no-relates-to", "fake-destroy", "shared-owner", "bare-href"],
    )
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--shared-user", default="alice")
    args = parser.parse_args()

    settings = Settings.load(data_dir=args.data, host="127.0.0.1", port=0)
    listener = socket.create_server(("127.0.0.1", 0))
    base_url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    service = build_service(settings, public_url=base_url)
    service.startup()
    try:
        app: App = build_application(settings, service, base_url=base_url)
        if args.variant == "no-relates-to":
            app = drop_relates_to(app)
        elif args.variant == "fake-destroy":
            app = fake_destroy(app)
        elif args.variant == "shared-owner":
            app = shared_owner(app, user=args.shared_user, password=os.environ["WSRF_UWS_PASSWORD"])
        else:
            app = bare_href(app)
        server = create_server(app, sockets=[listener], threads=4)

        def stop(signum: int, frame: Any) -> None:
            raise Stop

        signal.signal(signal.SIGTERM, stop)
        print(f"{READY} {base_url}", flush=True)
        try:
            server.run()
        finally:
            server.close()
    finally:
        service.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
