"""A service process for the restart tests, meant to be killed with ``kill -9``.

Usage: ``python hold_jobs.py DATA_DIR PLAN_JSON``. It creates (and starts) the jobs of
the plan, printing one JSON line per job as soon as the service has acknowledged it,
then ``READY``, then keeps creating jobs (printing each) until it is killed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from wsrf_uws.jdl.steps.contract import steps_jdl
from wsrf_uws.testing import build_test_service


def main() -> None:
    data_dir, plan = Path(sys.argv[1]), json.loads(sys.argv[2])
    service = build_test_service(data_dir, slots=plan["slots"])
    service.startup()
    for spec in plan["jobs"]:
        job = service.create_job(contract="steps", document=steps_jdl(**spec["jdl"]))
        if spec["start"]:
            service.start_job(job.resource_id, owner="anonymous")
        print(json.dumps({"id": job.resource_id, "name": spec["name"]}), flush=True)
    print("READY", flush=True)
    while True:
        job = service.create_job(contract="steps", document=steps_jdl())
        print(json.dumps({"id": job.resource_id, "name": "churn"}), flush=True)


if __name__ == "__main__":
    main()
