"""A SOAP request on a job resource reads its job from the store once.

The endpoint checks that the job is its contract's in the same read that finds it for
its owner (``JobService.get_job(..., contract=)``); a separate check first doubled the
store reads of every GetResourceProperty, the request clients poll with. A real service
on a loopback port, the project's zeep client, a real SQLite store whose ``get`` calls
are counted.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from waitress import wasyncore
from waitress.server import create_server

from wsrf_uws.client import Service
from wsrf_uws.client.errors import ResourceUnknown
from wsrf_uws.client.job import Job
from wsrf_uws.core.contract import ContractEnvironment
from wsrf_uws.core.model import Job as StoredJob
from wsrf_uws.core.ports import JobStore
from wsrf_uws.jdl.steps.contract import StepsContract
from wsrf_uws.soap.application import SoapApplication
from wsrf_uws.testing import build_test_service

from plugin_contracts import steps_schema_in

STEPS = "urn:wsrf-uws:steps:v1"
CORE = "urn:wsrf-uws:core:v1"
HOUR = timedelta(hours=1)
JDL = f'<job xmlns="{STEPS}"><steps>1</steps><stepSeconds>0</stepSeconds></job>'.encode()


class CountingStore:
    """A store passing everything to ``store``, counting the jobs read by identifier."""

    def __init__(self, store: JobStore) -> None:
        self._store = store
        self.reads = 0

    def get(self, resource_id: str) -> StoredJob | None:
        self.reads += 1
        return self._store.get(resource_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


class OtherSteps(StepsContract):
    """The steps contract under another name and namespace: a second endpoint."""

    def __init__(self, folder: Path) -> None:
        super().__init__(ContractEnvironment(public_url="http://127.0.0.1"))
        self.name = "other"
        self.namespace = "urn:test:other:v1"
        self.schema_path = steps_schema_in(folder, self.namespace)


class Served:
    def __init__(self, base_url: str, store: CountingStore) -> None:
        self.base_url = base_url
        self.store = store

    def service(self, contract: str = "steps") -> Service:
        return Service(self.base_url, contract)

    def reads(self, request: Callable[[], object]) -> int:
        """How many jobs ``request`` read from the store."""
        before = self.store.reads
        request()
        return self.store.reads - before


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("reads")
    listener = socket.create_server(("127.0.0.1", 0))
    base_url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    service = build_test_service(folder / "data", contracts=[StepsContract, OtherSteps(folder)])
    store = CountingStore(service.store)
    service.store = store  # type: ignore[assignment]
    service.startup()
    app = SoapApplication(
        service=service,
        base_url=base_url,
        authenticate=lambda *, headers, environ: "anonymous",
    )
    server: Any = create_server(app, sockets=[listener], threads=2)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield Served(base_url, store)
    finally:
        server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
        thread.join(timeout=10)
        server.task_dispatcher.shutdown()
        service.shutdown()


@pytest.mark.parametrize(
    ("operation", "request_of"),
    [
        ("GetResourceProperty", lambda job: lambda: job.property(f"{{{CORE}}}Phase")),
        (
            "GetMultipleResourceProperties",
            lambda job: lambda: job.properties(f"{{{CORE}}}Phase", f"{{{CORE}}}JobState"),
        ),
        ("GetResourcePropertyDocument", lambda job: job.document),
        ("SetTerminationTime", lambda job: lambda: job.extend(lifetime=HOUR)),
        ("startJob", lambda job: job.start),
        ("Destroy", lambda job: job.destroy),
    ],
)
def test_a_resource_request_reads_its_job_once(
    served: Served, operation: str, request_of: Callable[[Job], Callable[[], object]]
) -> None:
    job = served.service().create(JDL)
    assert served.reads(request_of(job)) == 1, operation


def test_a_job_is_still_unknown_at_another_contracts_endpoint(served: Served) -> None:
    job = served.service().create(JDL)
    elsewhere = served.service("other").job(job.resource_id)
    for attempt in (
        lambda: elsewhere.property(f"{{{CORE}}}Phase"),
        elsewhere.document,
        elsewhere.start,
        lambda: elsewhere.extend(lifetime=HOUR),
        elsewhere.destroy,
    ):
        with pytest.raises(ResourceUnknown):
            attempt()
    assert job.phase == "PENDING"  # at its own endpoint, untouched
