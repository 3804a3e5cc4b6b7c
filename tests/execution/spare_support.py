"""Contracts for the spare-process tests: ``steps`` with a ``prepare_run`` hook.

:class:`PreparedSteps` prepares an object that records the process it was made in (pid,
process group, niceness, address-space limit); a job writes the result ``prepared.json``:
that record (null when the job ran without one) and the job's own pid. Closing the object,
which the worker does once the job's outcome is reported, writes ``closed`` in the job's
folder. :class:`FailingPrepareSteps`'s hook raises. The ``Rehearsing`` contracts also
rehearse their runs: the record then says ``rehearsed``, or their rehearsal raises.
"""

from __future__ import annotations

import json
import os
import resource
import time
from pathlib import Path
from typing import Any

from wsrf_uws.core.contract import JobContext
from wsrf_uws.jdl.steps.contract import StepsContract, StepsJob

HOOK_FAILURE = "the spare-test hook fails on purpose"
REHEARSAL_FAILURE = "the spare-test rehearsal fails on purpose"


class PreparedState:
    """What :meth:`PreparedSteps.prepare_run` returns."""

    def __init__(self) -> None:
        self.record: dict[str, Any] = {
            "pid": os.getpid(),
            "pgid": os.getpgrp(),
            "nice": os.nice(0),
            "rlimit_as": resource.getrlimit(resource.RLIMIT_AS)[0],
        }
        self.workdir: Path | None = None

    def close(self) -> None:
        if self.workdir is not None:
            (self.workdir / "closed").write_text(str(os.getpid()))


class PreparedSteps(StepsContract):
    """``steps`` whose runs are prepared in spares."""

    def prepare_run(self) -> PreparedState:
        return PreparedState()

    def run(self, description: StepsJob, context: JobContext) -> None:
        prepared = context.prepared
        record = None
        if isinstance(prepared, PreparedState):
            prepared.workdir = context.workdir
            record = prepared.record
        report = {"prepared": record, "pid": os.getpid()}
        context.write_result(
            "prepared.json", json.dumps(report).encode(), mime_type="application/json"
        )
        super().run(description, context)


class FailingPrepareSteps(StepsContract):
    """``steps`` whose hook always fails: its jobs run as plain warm forks."""

    def prepare_run(self) -> None:
        raise RuntimeError(HOOK_FAILURE)


#: Seconds the slow hooks take: long enough for a job to arrive while they run.
SLOW_HOOK_SECONDS = 1.0


class SlowPreparedSteps(PreparedSteps):
    """``steps`` whose hook takes :data:`SLOW_HOOK_SECONDS`."""

    def prepare_run(self) -> PreparedState:
        time.sleep(SLOW_HOOK_SECONDS)
        return PreparedState()


class SlowFailingSteps(PreparedSteps):
    """``steps`` whose hook fails after :data:`SLOW_HOOK_SECONDS`."""

    def prepare_run(self) -> PreparedState:
        time.sleep(SLOW_HOOK_SECONDS)
        raise RuntimeError(HOOK_FAILURE)


#: The environment variable naming the file :class:`GatedPreparedSteps`'s hook waits for.
GATE_VARIABLE = "WSRF_UWS_TEST_SPARE_GATE"


class GatedPreparedSteps(PreparedSteps):
    """``steps`` whose hook waits until the file named by ``$WSRF_UWS_TEST_SPARE_GATE``
    exists (two minutes at most): a spare that stays preparing until the test says."""

    def prepare_run(self) -> PreparedState:
        gate = Path(os.environ[GATE_VARIABLE])
        deadline = time.monotonic() + 120
        while not gate.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        return PreparedState()


class RehearsingSteps(PreparedSteps):
    """``steps`` whose spares rehearse: the record says so, with the rehearsing pid."""

    def rehearse_run(self, prepared: PreparedState) -> None:
        prepared.record["rehearsed"] = os.getpid()


class GatedRehearsingSteps(GatedPreparedSteps):
    """:class:`GatedPreparedSteps` that also rehearses (but not for a job already waiting)."""

    def rehearse_run(self, prepared: PreparedState) -> None:
        prepared.record["rehearsed"] = os.getpid()


class FailingRehearsalSteps(PreparedSteps):
    """``steps`` whose rehearsal always fails: its jobs run as plain warm forks."""

    def rehearse_run(self, prepared: PreparedState) -> None:
        raise RuntimeError(REHEARSAL_FAILURE)


#: Seconds the prepared object of :class:`SlowClosingSteps` takes to close.
SLOW_CLOSE_SECONDS = 3.0


class SlowClosingState(PreparedState):
    """A prepared object whose close takes :data:`SLOW_CLOSE_SECONDS` (after the job's
    outcome is reported: its process is exiting meanwhile)."""

    def close(self) -> None:
        time.sleep(SLOW_CLOSE_SECONDS)


class SlowClosingSteps(PreparedSteps):
    """``steps`` whose job processes take :data:`SLOW_CLOSE_SECONDS` to exit after their
    outcome."""

    def prepare_run(self) -> SlowClosingState:
        return SlowClosingState()
