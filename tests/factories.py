"""Build Job values for store-level tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from wsrf_uws.core.model import Job, new_resource_id
from wsrf_uws.core.phases import Phase

T0 = datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)


def make_job(**fields: Any) -> Job:
    values: dict[str, Any] = {
        "resource_id": new_resource_id(),
        "contract": "steps",
        "owner": "alice",
        "phase": Phase.PENDING,
        "creation_time": T0,
        "termination_time": T0 + timedelta(days=7),
        "execution_duration": 60,
        "jdl": b"<job/>",
        "address": "http://localhost:8080/uws/steps",
    }
    values.update(fields)
    return Job(**values)
