"""Inside a spare: a job process that prepares its contract's run before its job arrives.

A spare is forked from its contract's warm parent like any job process (:mod:`.zygote`),
but its second message is a :class:`SpareOrder` rather than the job's spec. It then
becomes what a job process is (its niceness, a process group of its own, the job's
address-space limit), calls the contract's
:meth:`~wsrf_uws.core.contract.Contract.prepare_run` and, unless its job has come
meanwhile, :meth:`~wsrf_uws.core.contract.Contract.rehearse_run`, says
:class:`SpareReady`, and waits for its job's spec on the same connection: the run then
starts with what the hook returned (``context.prepared``) instead of doing that work on
the job's latency (a job handed over while the hook still runs waits only for the rest of
it). A spare serves one job and ends with it, as every job process does. A hook that
fails is reported in the :class:`SpareReady`, and a job the spare gets runs without what
it would have prepared.
"""

from __future__ import annotations

import threading
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from ..core.contract import Contract
from .worker import close_prepared, enter_job_limits, limit_address_space


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


def prepare_spare(order: SpareOrder, conn: Connection) -> tuple[Any, Any]:
    """Become a job process under ``order``'s limits, run the contract's hook, report,
    and wait for the job: returns what the hook returned (None if it failed: the failure
    is reported, and the job prepares itself) and the job's spec.

    The spec is read while the hook runs, by a thread: the executor may hand its job to
    this spare before the hook is done, and a spec larger than the connection's buffer
    would otherwise keep the executor's ``send`` (and the executor with it) waiting for
    the hook. Raises what reading the spec raised (EOFError or OSError: the executor is
    gone).
    """
    enter_job_limits(order.nice, own_session=False)  # the warm parent's session
    limit_address_space(order.memory_bytes)
    received: list[Any] = []
    failed: list[BaseException] = []

    def receive() -> None:
        try:
            received.append(conn.recv())
        except BaseException as exc:  # raised again in the main thread
            failed.append(exc)

    reader = threading.Thread(target=receive, name="spare-spec", daemon=True)
    reader.start()
    prepared: Any = None
    hook = "prepare_run"
    try:
        prepared = order.contract.prepare_run()
        if not received and not failed:  # a job that has come would wait for it
            hook = "rehearse_run"
            order.contract.rehearse_run(prepared)
    except Exception as exc:  # any failure is the contract's, and reported
        close_prepared(prepared)  # after a failed rehearsal, not to be trusted by the job
        prepared = None
        failure = f"{hook}: {type(exc).__name__}: {exc}"
        conn.send(SpareReady(failure, traceback.format_exc()))
    else:
        conn.send(SpareReady())
    reader.join()
    if failed:
        raise failed[0]
    return prepared, received[0]
