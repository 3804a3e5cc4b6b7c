"""Contracts that misbehave on purpose, installed into a real server as a data centre
installs its own: a distribution whose ``wsrf_uws.contracts`` entry points are on the
server's path (:func:`plugin_environment`).

They reuse the ``steps`` schema (a JDL of ``steps`` and ``stepSeconds``) and change
what a job does:

- ``flood``: replaces its state in a tight loop, for ever: a job that reports faster
  than the service can record;
- ``hog``: takes ``steps`` MiB of address space at once (not touched, so it costs the
  machine nothing), then completes;
- ``roomyhog``: the same, in a contract that declares four times the service's memory
  limit for its jobs;
- ``stager``: a job quoted to stage ``steps`` MiB.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from wsrf_uws.core.contract import Assessment, JobContext
from wsrf_uws.core.model import Quote
from wsrf_uws.jdl.steps.contract import NAMESPACE as STEPS
from wsrf_uws.jdl.steps.contract import StepsContract, StepsJob
from wsrf_uws.published import schema_path

MIB = 1024**2


class FloodContract(StepsContract):
    """``flood``: reports as fast as it can until it is stopped."""

    name = "flood"

    def run(self, description: StepsJob, context: JobContext) -> None:
        reports = 0
        while True:
            reports += 1
            context.set_state({"reports": reports})


class HogContract(StepsContract):
    """``hog``: reserves ``steps`` MiB of address space."""

    name = "hog"

    def run(self, description: StepsJob, context: JobContext) -> None:
        # bytes(n) is calloc'ed: fresh pages that are reserved, never written.
        block = bytes(description.steps * MIB)
        context.set_state({"reserved": len(block)})


class RoomyHogContract(HogContract):
    """``roomyhog``: a hog whose contract asks for more room than the service default."""

    name = "roomyhog"

    def job_memory_bytes(self, *, default: int) -> int:
        return 4 * default


class StagerContract(StepsContract):
    """``stager``: quotes ``steps`` MiB to stage."""

    name = "stager"

    def assess(self, description: StepsJob, *, owner: str) -> Assessment:
        offer = super().assess(description, owner=owner)
        cost: dict[str, Any] = {**offer.quote.cost, "bytes": float(description.steps * MIB)}
        return replace(offer, quote=Quote(duration=offer.quote.duration, cost=cost))


CONTRACTS = (FloodContract, HogContract, RoomyHogContract, StagerContract)


def plugin_environment(folder: Path) -> dict[str, str]:
    """Environment for ``running_server`` serving ``steps`` and these contracts.

    Writes a minimal installed distribution (``*.dist-info`` with ``entry_points.txt``)
    into ``folder``; the server finds it on its ``PYTHONPATH``, as it would any
    contract package installed beside it.
    """
    info = folder / "hostile_contracts-1.0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: hostile-contracts\nVersion: 1.0\n", encoding="utf-8"
    )
    entry_points = "".join(f"{c.name} = plugin_contracts:{c.__name__}\n" for c in CONTRACTS)
    (info / "entry_points.txt").write_text(
        "[wsrf_uws.contracts]\n" + entry_points, encoding="utf-8"
    )
    path = [str(folder), str(Path(__file__).resolve().parent)]
    if os.environ.get("PYTHONPATH"):
        path.append(os.environ["PYTHONPATH"])
    return {
        "PYTHONPATH": os.pathsep.join(path),
        "WSRF_UWS_CONTRACTS": json.dumps(["steps", *(c.name for c in CONTRACTS)]),
    }


def steps_schema_in(folder: Path, namespace: str) -> Path:
    """The ``steps`` schema with ``namespace`` as its target, written into ``folder``: the
    schema of a contract like ``steps`` in a namespace of its own."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{namespace.replace(':', '-')}.xsd"
    path.write_text(schema_path("steps.xsd").read_text().replace(STEPS, namespace))
    return path
