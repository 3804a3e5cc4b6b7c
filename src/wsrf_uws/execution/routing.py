"""An executor per contract: jobs go where their contract's settings say they run.

A service may run its short jobs in its own worker processes and send its heavy ones to
a batch system (``cea`` on Slurm, ``adql`` local). :class:`ContractRouter` is the one
executor the service sees: a job goes to its contract's executor when it is queued;
everything else (stopping a job, shutting down, what is held) concerns every executor,
since a job's id alone does not say where it runs.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..core.ports import ExecutionListener, Executor


class ContractRouter(Executor):
    """Sends each job to ``routes[contract]``, or to ``default`` for any other contract."""

    def __init__(self, *, default: Executor, routes: Mapping[str, Executor]) -> None:
        self.default = default
        self.routes = dict(routes)
        # Each executor once, the default first (several contracts may share one).
        self.executors: list[Executor] = []
        for executor in (default, *self.routes.values()):
            if all(executor is not known for known in self.executors):
                self.executors.append(executor)

    def executor_of(self, contract: str) -> Executor:
        """The executor the jobs of ``contract`` run in."""
        return self.routes.get(contract, self.default)

    def start(self, listener: ExecutionListener) -> None:
        for executor in self.executors:
            executor.start(listener)

    def submit(self, resource_id: str, *, owner: str = "", contract: str = "") -> None:
        self.executor_of(contract).submit(resource_id, owner=owner, contract=contract)

    def cancel(self, resource_id: str) -> bool:
        # Every executor is asked (the job may be between two of them, resubmitted): one
        # that does not hold the job answers False at once.
        return any([executor.cancel(resource_id) for executor in self.executors])

    def shutdown(self) -> None:
        for executor in self.executors:
            executor.shutdown()

    def active(self) -> dict[str, str]:
        held: dict[str, str] = {}
        for executor in self.executors:
            held.update(executor.active())
        return held

    def interrupt_all(self, *, at_once: bool = False) -> list[str]:
        stopped: list[str] = []
        for executor in self.executors:
            stopped += executor.interrupt_all(at_once=at_once)
        return stopped
