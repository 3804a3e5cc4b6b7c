"""Inside a spare: a job process that prepares its contract's run before its job arrives.

A spare is forked from its contract's warm parent like any job process (:mod:`.zygote`),
but its second message is a :class:`SpareOrder` rather than the job's spec. It then
becomes what a job process is (its niceness, a process group of its own, the job's
address-space limit), calls the contract's
:meth:`~wsrf_uws.core.contract.Contract.prepare_run`, says :class:`SpareReady`, and waits
for its job's spec on the same connection: the run then starts with what the hook
returned (``context.prepared``) instead of doing that work on the job's latency (a job
handed over while the hook still runs waits only for the rest of it). A spare serves one
job and ends with it, as every job process does. A hook that fails is reported in the
:class:`SpareReady`, and a job the spare gets runs without what it would have prepared.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from ..core.contract import Contract
from .worker import enter_job_limits, limit_address_space


@dataclass(frozen=True)
class SpareOrder:
    """The executor to a new spare: prepare for a job of ``contract``, under these limits."""

    contract: Contract
    #: The job's address-space limit (RLIMIT_AS), in bytes; 0: none.
    memory_bytes: int
    #: Added to the spare's niceness, as to a job's.
    nice: int


@dataclass(frozen=True)
class SpareReady:
    """A spare to the executor: prepared (``failure`` None), or why the hook failed."""

    failure: str | None = None
    detail: str | None = None


def prepare_spare(order: SpareOrder, conn: Connection) -> Any:
    """Become a job process under ``order``'s limits, run the contract's hook, report.

    Returns what the hook returned, for the run: None if it failed (the failure is
    reported, and the job, if one comes, prepares itself). Raises OSError if the executor
    is gone.
    """
    enter_job_limits(order.nice)
    limit_address_space(order.memory_bytes)
    try:
        prepared = order.contract.prepare_run()
    except Exception as exc:  # any failure is the contract's, and reported
        conn.send(SpareReady(f"{type(exc).__name__}: {exc}", traceback.format_exc()))
        return None
    conn.send(SpareReady())
    return prepared
