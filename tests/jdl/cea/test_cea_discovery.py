"""The application library for clients: ``GET /uws/cea/applications`` on a real server.

The service runs the demonstration library; what it serves is compared with the library
as the provider's own reader loads it, and must not show how the provider's machine is
set up (executables, arguments, environment).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from wsrf_uws.jdl.cea.library import DEMO_LIBRARY, Library
from wsrf_uws.testing.server import RunningServer, running_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("cea-discovery") / "data") as running:
        yield running


@pytest.fixture(scope="module")
def library() -> Library:
    return Library.load(DEMO_LIBRARY)


def test_every_application_is_listed_with_its_parameters(
    server: RunningServer, library: Library
) -> None:
    response = requests.get(f"{server.url('cea')}/applications", timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/json"
    served = response.json()["applications"]
    assert [a["name"] for a in served] == library.names()
    for described in served:
        application = library.applications[described["name"]]
        assert described["title"] == application.title
        assert [p["name"] for p in described["inputs"]] == [p.name for p in application.inputs]
        assert [p["name"] for p in described["outputs"]] == [p.name for p in application.outputs]
        for parameter, original in zip(described["inputs"], application.inputs, strict=True):
            assert parameter["type"] == str(original.type)
            assert parameter["minOccurs"] == original.min_occurs
            assert parameter.get("default") == original.default
            assert parameter.get("options", []) == list(original.options)
    text = response.text
    for application in library.applications.values():
        assert str(application.executable) not in text


def test_one_application_is_served_on_its_own(server: RunningServer, library: Library) -> None:
    name = library.names()[0]
    response = requests.get(f"{server.url('cea')}/applications/{name}", timeout=30)
    assert response.status_code == 200
    assert response.json()["name"] == name
    assert "ETag" in response.headers
    missing = requests.get(f"{server.url('cea')}/applications/no-such-tool", timeout=30)
    assert missing.status_code == 404


def test_the_soap_endpoint_is_unchanged_beside_the_documents(server: RunningServer) -> None:
    response = requests.get(f"{server.url('cea')}?wsdl", timeout=30)
    assert response.status_code == 200
    assert b"listJobs" in response.content
