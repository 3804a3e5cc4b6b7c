"""A contract's own HTTP applications (``Contract.web_routes``) on the service's port.

The WSGI application is called directly (it is plain WSGI); prefixes, clashes, body
limits and the authenticate callable handed to contracts are what is checked here.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest

from wsrf_uws.core.contract import Authenticate, BodyLimit, ContractEnvironment, WebRoute
from wsrf_uws.jdl.steps.contract import StepsContract
from wsrf_uws.soap.application import SoapApplication
from wsrf_uws.testing import build_test_service

from plugin_contracts import steps_schema_in

BASE = "http://example.org"


class RoutedContract(StepsContract):
    """The steps contract in a namespace of its own, plus an HTTP application that echoes
    who called it, and where, at each of its ``prefixes``."""

    def __init__(
        self,
        name: str,
        prefixes: tuple[str, ...],
        *,
        folder: Path,
        max_body_bytes: int | None = None,
        body_limit: BodyLimit | None = None,
    ) -> None:
        super().__init__(ContractEnvironment(public_url=BASE))
        self.name = name
        self.namespace = f"urn:test:{name}:v1"
        self.schema_path = steps_schema_in(folder, self.namespace)
        self.prefixes = prefixes
        self.max_body_bytes = max_body_bytes
        self.body_limit = body_limit

    def web_routes(self, *, authenticate: Authenticate) -> Mapping[str, WebRoute]:
        def answer(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            caller = authenticate(headers=[], environ=environ)
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [f"{self.name} {caller} {environ['PATH_INFO']} {self.public_url}".encode()]

        route = WebRoute(answer, max_body_bytes=self.max_body_bytes, body_limit=self.body_limit)
        return {prefix: route for prefix in self.prefixes}


def call(
    app: SoapApplication, path: str, *, method: str = "GET", body: bytes = b""
) -> tuple[str, bytes]:
    seen: dict[str, str] = {}

    def start_response(status: str, headers: list[tuple[str, str]], *exc: Any) -> None:
        seen["status"] = status

    environ = {
        "PATH_INFO": path,
        "REQUEST_METHOD": method,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    answer = b"".join(app(environ, start_response))
    return seen["status"], answer


def application(tmp_path: Path, *contracts: RoutedContract) -> SoapApplication:
    service = build_test_service(
        tmp_path / "data", contracts=list(contracts), max_request_bytes=1024
    )
    return SoapApplication(
        service=service,
        base_url=BASE,
        authenticate=lambda *, headers, environ: "anonymous",
        max_body_bytes=1024,
    )


def test_requests_under_a_prefix_reach_the_contract_application(tmp_path: Path) -> None:
    app = application(tmp_path, RoutedContract("space", ("/space", "/reg/caps"), folder=tmp_path))
    assert call(app, "/space") == ("200 OK", b"space anonymous /space http://example.org")
    assert (
        call(app, "/space/nodes/a/b")[1] == b"space anonymous /space/nodes/a/b http://example.org"
    )
    assert call(app, "/reg/caps")[0] == "200 OK"
    # A longer first segment is not under the prefix.
    assert call(app, "/spaces/x")[0] == "404 Not Found"
    assert call(app, "/reg")[0] == "404 Not Found"
    # The service's own routes still answer.
    assert call(app, "/")[0] == "200 OK"


@pytest.mark.parametrize(
    "prefix",
    ["/uws", "/uws/space", "/uws/other/x", "/results/x", "/schemas", "space", "/space/", "/a//b"],
)
def test_reserved_or_malformed_prefixes_are_refused(tmp_path: Path, prefix: str) -> None:
    with pytest.raises(ValueError, match=r"prefix|reserved"):
        application(tmp_path, RoutedContract("space", (prefix,), folder=tmp_path))


def test_a_contract_may_serve_documents_below_its_own_endpoint(tmp_path: Path) -> None:
    app = application(tmp_path, RoutedContract("space", ("/uws/space/tables",), folder=tmp_path))
    assert call(app, "/uws/space/tables/a")[1] == (
        b"space anonymous /uws/space/tables/a http://example.org"
    )
    # The SOAP endpoint itself, and its WSDL, are still the service's.
    status, answer = call(app, "/uws/space")
    assert status == "200 OK" and answer.startswith(b"SOAP endpoint")
    assert call(app, "/uws/space/other")[0] == "404 Not Found"


def test_two_contracts_claiming_overlapping_prefixes_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'one' and 'two' both claim"):
        application(
            tmp_path,
            RoutedContract("one", ("/data",), folder=tmp_path),
            RoutedContract("two", ("/data/more",), folder=tmp_path),
        )


def test_a_route_without_limits_of_its_own_has_the_services(tmp_path: Path) -> None:
    app = application(tmp_path, RoutedContract("space", ("/space",), folder=tmp_path))
    assert app.body_limit("PUT", "/space/x") == 1024
    assert app.largest_body() == 1024
    assert call(app, "/space/x", method="PUT", body=b"x" * 1024)[0] == "200 OK"
    status, answer = call(app, "/space/x", method="PUT", body=b"x" * 1025)
    assert status == "413 Request Entity Too Large"  # from the service, before the body is read
    assert b"at most 1024" in answer


def test_a_route_may_take_larger_bodies(tmp_path: Path) -> None:
    app = application(
        tmp_path, RoutedContract("space", ("/space",), folder=tmp_path, max_body_bytes=5000)
    )
    assert app.body_limit("PUT", "/space/x") == 5000
    assert app.body_limit("POST", "/uws/space") == 1024  # the SOAP endpoint keeps its own
    assert app.largest_body() == 5000  # what the HTTP server must be ready to read
    assert call(app, "/space/x", method="PUT", body=b"x" * 5000)[0] == "200 OK"
    assert call(app, "/space/x", method="PUT", body=b"x" * 5001)[0].startswith("413")


def test_a_route_with_a_limit_per_request_answers_for_itself(tmp_path: Path) -> None:
    def limit(method: str, path: str) -> int | None:
        return 5000 if method == "PUT" else 10

    app = application(
        tmp_path,
        RoutedContract(
            "space", ("/space",), folder=tmp_path, max_body_bytes=5000, body_limit=limit
        ),
    )
    assert app.body_limit("PUT", "/space/x") == 5000
    assert app.body_limit("POST", "/space/x") == 10
    # The application is called whatever the length: it refuses in its own words.
    assert call(app, "/space/x", method="POST", body=b"x" * 100)[0] == "200 OK"


def test_a_route_must_be_a_web_route(tmp_path: Path) -> None:
    class Bare(RoutedContract):
        def web_routes(self, *, authenticate: Authenticate) -> Mapping[str, WebRoute]:
            return {"/bare": lambda environ, start_response: []}  # type: ignore[dict-item]

    with pytest.raises(TypeError, match="route /bare must be a WebRoute"):
        application(tmp_path, Bare("bare", (), folder=tmp_path))


def test_extra_routes_are_served_beside_the_contracts(tmp_path: Path) -> None:
    """What bench/soap_server.py mounts its echo baseline with."""

    def echo(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"echo " + environ["PATH_INFO"].encode()]

    service = build_test_service(
        tmp_path / "data", contracts=[RoutedContract("space", ("/space",), folder=tmp_path)]
    )
    app = SoapApplication(
        service=service,
        base_url=BASE,
        authenticate=lambda *, headers, environ: "anonymous",
        extra_routes={"/bench/echo": echo},
    )
    assert call(app, "/bench/echo") == ("200 OK", b"echo /bench/echo")
    assert call(app, "/space")[0] == "200 OK"
    with pytest.raises(ValueError, match="both claim /space"):
        SoapApplication(
            service=service,
            base_url=BASE,
            authenticate=lambda *, headers, environ: "anonymous",
            extra_routes={"/space": echo},
        )
