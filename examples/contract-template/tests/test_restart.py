"""A crash in the middle of a job: the isolated job runs again, from what was kept at createJob."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest

from wsrf_uws.client import InvalidJobDescription, Service
from wsrf_uws.testing.server import RunningServer

from conftest import jdl

TEXTS = {name: name * 100_000 for name in ("a", "b", "c")}


def test_an_interrupted_job_runs_again_from_its_kept_description(tmp_path: Path) -> None:
    # 100 kB a second: the 300 kB job takes three seconds, time enough to crash the service.
    server = RunningServer(
        tmp_path / "data", env={"WSRF_UWS_CHECKSUM__READ_BYTES_PER_SECOND": "100000"}
    )
    server.start()
    try:
        job = Service(server.url("checksum")).create(jdl(texts=TEXTS))
        job.start()
        deadline = time.monotonic() + 30
        while not (job.state.fraction or 0) > 0:
            assert time.monotonic() < deadline, "the job never made progress"
            time.sleep(0.05)
        server.kill()  # SIGKILL, as a crash would

        # Settings under which this JDL would now be refused, and no more pacing: the job
        # runs again from the description kept at createJob, without reading the JDL again.
        server.env["WSRF_UWS_CHECKSUM__MAX_INPUTS"] = "1"
        server.env["WSRF_UWS_CHECKSUM__READ_BYTES_PER_SECOND"] = "0"
        server.start()
        service = Service(server.url("checksum"))
        with pytest.raises(InvalidJobDescription, match="at most 1"):
            service.create(jdl(texts=TEXTS))
        again = service.job(job.resource_id)
        state = again.wait(timeout=60)
        assert state.phase == "COMPLETED", state.error_message
        assert state.run_count == 2
        manifest = tmp_path / "checksums.txt"
        again.download("checksums.txt", manifest)
        assert manifest.read_text() == "".join(
            f"{hashlib.sha256(text.encode()).hexdigest()}  {name}\n" for name, text in TEXTS.items()
        )
        again.destroy()
    finally:
        if server.process is not None:
            server.stop()
