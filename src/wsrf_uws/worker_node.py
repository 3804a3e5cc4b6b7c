"""``wsrf-uws worker``: a node that runs jobs and answers no client.

It joins the cluster of the PostgreSQL store at ``database_url``, claims queued jobs
as its slots free up, and runs them in the local executor, sharing the data directory
with every other node. SIGTERM or SIGINT stops it: its runs end INTERRUPTED and stay
recorded on the node, so that it recovers them when it is back, or the leader does once
the node has been silent for the heartbeat ttl.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

from .core.cluster import NodeRole
from .runtime import build_service
from .settings import Settings


def run_worker(
    settings: Settings,
    *,
    node: str | None = None,
    slots: int | None = None,
    announce: Callable[[str], None] | None = None,
) -> int:
    """Run a worker node until SIGTERM or SIGINT; returns the exit status.

    Raises :class:`ValueError` without ``database_url`` (there is no cluster to join).
    """
    if not settings.database_url.get_secret_value():
        raise ValueError(
            "a worker joins a cluster: set database_url (WSRF_UWS_DATABASE_URL) to the "
            "PostgreSQL database its front-ends use"
        )
    service = build_service(settings, role=NodeRole.WORKER, node=node, slots=slots)
    stopping = threading.Event()

    def stop(signum: int, frame: Any) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        report = service.startup()
        try:
            running = slots or settings.slots
            (announce or _print)(
                f"wsrf-uws worker {service.duties.node} running up to {running} job(s) at once "
                f"(data {settings.data_dir}; contracts {', '.join(service.registry.names())}; "
                f"at start-up {len(report.requeued)} job(s) requeued, {len(report.held)} held)"
            )
            # Timed waits: a signal the kernel hands to another thread runs its handler
            # only when the main thread next runs Python code, and an untimed wait never
            # returns to Python (a SIGTERM was once left unanswered for good).
            while not stopping.wait(1.0):
                pass
        finally:
            service.shutdown()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def _print(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
