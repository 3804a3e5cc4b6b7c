"""Run the engine in-process, without any binding: create, start, watch, destroy a job.

    python examples/embedded_service.py [DATA_DIR]

Uses the small ``steps`` contract (:mod:`wsrf_uws.jdl.steps`); a real deployment
serves the installed contracts over SOAP instead (``wsrf-uws serve``).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from wsrf_uws.core import Phase, StepStatus
from wsrf_uws.jdl.steps.contract import steps_jdl
from wsrf_uws.testing import build_test_service


def main() -> None:
    data_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())
    with build_test_service(data_dir) as service:
        job = service.create_job(contract="steps", document=steps_jdl(5, 0.2), owner="alice")
        print(f"created {job.resource_id}: {job.phase}, quote {job.quote.duration}")
        print(f"startJob -> {service.start_job(job.resource_id, owner='alice')}")
        while not (job := service.get_job(job.resource_id, owner="alice")).is_final:
            if job.phase is Phase.EXECUTING and job.progress.fraction is not None:
                active = [s.label for s in job.progress.steps if s.status is StepStatus.ACTIVE]
                print(f"  {job.progress.fraction:4.0%}  {', '.join(active)}")
            time.sleep(0.2)
        print(f"{job.phase}; results: {', '.join(r.name for r in job.results)}")
        print(job.progress.text())
        service.destroy_job(job.resource_id, owner="alice")
        print(f"destroyed; folder left: {service.files.folder(job.resource_id).exists()}")


if __name__ == "__main__":
    main()
