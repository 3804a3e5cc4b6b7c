"""The sample job descriptions in ``examples/jdl/{contract}/`` are accepted by a fresh service."""

from __future__ import annotations

from pathlib import Path

import pytest

from wsrf_uws.core import JobService
from wsrf_uws.core.phases import Phase

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "jdl"
SAMPLES = sorted(EXAMPLES.glob("*/*.xml"))


def test_there_are_samples() -> None:
    assert any(path.parent.name == "steps" for path in SAMPLES)


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_sample_creates_a_pending_job(service: JobService, path: Path) -> None:
    if path.parent.name not in service.registry:
        pytest.skip(f"contract {path.parent.name} is not installed in the test service")
    job = service.create_job(contract=path.parent.name, document=path.read_bytes())
    assert job.phase is Phase.PENDING
