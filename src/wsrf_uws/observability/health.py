"""``GET /health``: is the service able to work, for a load balancer or a supervisor.

The answer is JSON: ``status`` (``ok`` or ``unavailable``), ``store`` (``ok``, how long
a one-row lookup took, or the kind of error), ``executor`` (jobs running and queued in
this process, its slots) and, on a cluster node, ``node``. HTTP 200 when the store
answers, 503 when it does not. It costs one primary-key lookup, never a table scan; the
lookup runs on a thread of its own, so that a store that does not answer (a network that
went silent) makes the check fail after ``timeout`` seconds rather than hold a request
thread, and only one such lookup is ever outstanding. The error's text, which may name
database hosts, is logged, not answered: the route is public.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from ..core.service import JobService

log = logging.getLogger(__name__)

#: The resource id looked up: never a real one (ids are 160 random bits, in hex).
_PROBE_ID = "health-probe"


@dataclass
class _Probe:
    """One store lookup under way, and how it ended."""

    done: threading.Event
    error: str | None = None
    seconds: float = 0.0


class HealthCheck:
    """The health of ``service``; :meth:`report` is what ``/health`` answers."""

    def __init__(self, service: JobService, *, timeout: float = 5.0) -> None:
        self.service = service
        self.timeout = timeout
        self._lock = threading.Lock()
        self._probe: _Probe | None = None

    def report(self) -> tuple[bool, dict[str, Any]]:
        """Whether the service is healthy, and the JSON-ready report."""
        store = self._store()
        healthy = store["status"] == "ok"
        report: dict[str, Any] = {
            "status": "ok" if healthy else "unavailable",
            "store": store,
            "executor": executor_status(self.service),
        }
        if self.service.duties.node is not None:
            report["node"] = self.service.duties.node
        return healthy, report

    def _store(self) -> dict[str, Any]:
        with self._lock:
            probe = self._probe
            if probe is None or probe.done.is_set():
                probe = self._probe = _Probe(done=threading.Event())
                threading.Thread(
                    target=self._look_up, args=(probe,), name="wsrf-uws-health", daemon=True
                ).start()
        if not probe.done.wait(self.timeout):
            return {"status": "unreachable", "error": f"no answer within {self.timeout:g} s"}
        if probe.error is not None:
            return {"status": "unreachable", "error": probe.error}
        return {"status": "ok", "latency_ms": round(probe.seconds * 1000, 2)}

    def _look_up(self, probe: _Probe) -> None:
        started = time.perf_counter()
        try:
            self.service.store.exists(_PROBE_ID)
        except Exception as exc:
            log.warning("health check: the store did not answer: %s", exc)
            probe.error = type(exc).__name__
        probe.seconds = time.perf_counter() - started
        probe.done.set()


def executor_status(service: JobService) -> dict[str, Any]:
    """Jobs this process's executor runs and holds queued, and its slots (None: unknown)."""
    held = service.executor.active()
    running = sum(1 for state in held.values() if state == "running")
    slots = getattr(service.executor, "slots", None)
    return {
        "running": running,
        "queued": len(held) - running,
        "slots": slots if isinstance(slots, int) else None,
    }
