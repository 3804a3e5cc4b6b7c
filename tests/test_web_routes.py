"""A contract's own HTTP applications (``Contract.web_routes``) on the service's port.

The WSGI application is called directly (it is plain WSGI); prefixes, clashes and the
authenticate callable handed to contracts are what is checked here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest

from wsrf_uws.core.contract import WsgiApplication
from wsrf_uws.core.service import JobService
from wsrf_uws.soap.application import SoapApplication
from wsrf_uws.testing import StepsContract, build_test_service


class RoutedContract(StepsContract):
    """The steps contract plus an HTTP application that echoes who called it, and where."""

    def __init__(self, name: str, prefixes: tuple[str, ...]) -> None:
        super().__init__()
        self.name = name
        self.namespace = f"urn:test:{name}:v1"
        self.prefixes = prefixes

    def web_routes(
        self, *, service: JobService, base_url: str, authenticate: Callable[..., str]
    ) -> Mapping[str, WsgiApplication]:
        def answer(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            caller = authenticate(headers=[], environ=environ)
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [f"{self.name} {caller} {environ['PATH_INFO']} {base_url}".encode()]

        return {prefix: answer for prefix in self.prefixes}


def call(app: SoapApplication, path: str) -> tuple[str, bytes]:
    seen: dict[str, str] = {}

    def start_response(status: str, headers: list[tuple[str, str]], *exc: Any) -> None:
        seen["status"] = status

    body = b"".join(app({"PATH_INFO": path, "REQUEST_METHOD": "GET"}, start_response))
    return seen["status"], body


def application(tmp_path: Path, *contracts: RoutedContract) -> SoapApplication:
    service = build_test_service(tmp_path / "data", contracts=list(contracts))
    return SoapApplication(
        service=service,
        base_url="http://example.org",
        authenticate=lambda *, headers, environ: "anonymous",
    )


def test_requests_under_a_prefix_reach_the_contract_application(tmp_path: Path) -> None:
    app = application(tmp_path, RoutedContract("space", ("/space", "/reg/caps")))
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


@pytest.mark.parametrize("prefix", ["/uws", "/results/x", "/schemas", "space", "/space/", "/a//b"])
def test_reserved_or_malformed_prefixes_are_refused(tmp_path: Path, prefix: str) -> None:
    with pytest.raises(ValueError, match=r"prefix|reserved"):
        application(tmp_path, RoutedContract("space", (prefix,)))


def test_two_contracts_claiming_overlapping_prefixes_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'one' and 'two' both claim"):
        application(
            tmp_path, RoutedContract("one", ("/data",)), RoutedContract("two", ("/data/more",))
        )


def test_extra_routes_are_served_beside_the_contracts(tmp_path: Path) -> None:
    """What bench/soap_server.py mounts its echo baseline with."""

    def echo(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"echo " + environ["PATH_INFO"].encode()]

    service = build_test_service(
        tmp_path / "data", contracts=[RoutedContract("space", ("/space",))]
    )
    app = SoapApplication(
        service=service,
        base_url="http://example.org",
        authenticate=lambda *, headers, environ: "anonymous",
        extra_routes={"/bench/echo": echo},
    )
    assert call(app, "/bench/echo") == ("200 OK", b"echo /bench/echo")
    assert call(app, "/space")[0] == "200 OK"
    with pytest.raises(ValueError, match="both claim /space"):
        SoapApplication(
            service=service,
            base_url="http://example.org",
            authenticate=lambda *, headers, environ: "anonymous",
            extra_routes={"/space": echo},
        )
