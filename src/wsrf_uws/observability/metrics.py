"""``GET /metrics``: the service's figures in the Prometheus text format (prometheus_client).

| metric | what |
|---|---|
| ``wsrf_uws_jobs{contract,phase}`` | jobs recorded, from the store (every node's, on a cluster) |
| ``wsrf_uws_request_seconds{operation}`` | histogram of the time each request took |
| ``wsrf_uws_executor_slots`` | jobs this process's executor may run at once |
| ``wsrf_uws_executor_running`` / ``_queued`` | jobs it runs / holds queued now |
| ``wsrf_uws_job_events_total{event,contract}`` | job events this process told |
| ``wsrf_uws_quota_refusals_total{contract,quota}`` | createJobs refused by a quota |

No label names an owner, a resource or anything else a caller chooses: ``contract`` is
one of the served contracts, ``operation`` one of the known operations (else
``other``), so the series are few and bounded, and nobody learns another user's jobs
from them. The job counts come from one grouped count over a store index
(:meth:`~wsrf_uws.core.ports.JobStore.count_by_contract_and_phase`), kept for
``cache_seconds``, so scrapes cost the store little however often they come.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from ..core.job_events import JobEvent, JobEventKind
from ..core.phases import Phase
from ..core.service import JobService
from .health import executor_status

log = logging.getLogger(__name__)

#: The Content-Type of the text format.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: Request time buckets, in seconds: from a cached lookup to a slow staging request.
REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ServiceMetrics:
    """The metrics of one service process; a :class:`~wsrf_uws.core.job_events.JobEvents`.

    Built before the service (it is told the service's events), bound to it with
    :meth:`bind` once the service exists.
    """

    def __init__(
        self, *, cache_seconds: float = 2.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Histogram(
            "wsrf_uws_request_seconds",
            "Time taken to answer a request, by operation (a SOAP operation, or the route).",
            ["operation"],
            buckets=REQUEST_BUCKETS,
            registry=self.registry,
        )
        self.job_events = Counter(
            "wsrf_uws_job_events",
            "Job events told by this process (created, queued, started, ended, destroyed).",
            ["event", "contract"],
            registry=self.registry,
        )
        self.quota_refusals = Counter(
            "wsrf_uws_quota_refusals",
            "createJob requests refused by a quota, by contract and quota.",
            ["contract", "quota"],
            registry=self.registry,
        )
        self._state = _ServiceState(cache_seconds=cache_seconds, clock=clock)
        self.registry.register(self._state)

    def bind(self, service: JobService) -> None:
        """Read the job counts and the executor of ``service`` from now on."""
        self._state.service = service

    def emit(self, event: JobEvent) -> None:
        """Count ``event`` (a JobEvents observer)."""
        if event.kind is JobEventKind.REFUSED:
            self.quota_refusals.labels(event.contract, event.reason or "other").inc()
        else:
            self.job_events.labels(event.kind.value, event.contract).inc()

    def observe_request(self, operation: str, seconds: float) -> None:
        """A request for ``operation`` took ``seconds``."""
        self.requests.labels(operation).observe(seconds)

    def render(self) -> bytes:
        """Every metric, in the text format."""
        return generate_latest(self.registry)


class _ServiceState(Collector):
    """The gauges read at each scrape: job counts (cached) and the executor's load."""

    def __init__(self, *, cache_seconds: float, clock: Callable[[], float]) -> None:
        self.service: JobService | None = None
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, Phase], int] = {}
        self._read_at: float | None = None

    def describe(self) -> Iterator[Metric]:
        return iter(())  # read at each scrape; nothing to check at registration

    def collect(self) -> Iterator[Metric]:
        service = self.service
        if service is None:
            return
        jobs = GaugeMetricFamily(
            "wsrf_uws_jobs", "Jobs recorded in the store, by contract and phase.",
            labels=["contract", "phase"],
        )  # fmt: skip
        for (contract, phase), count in sorted(self._job_counts(service).items()):
            jobs.add_metric([contract, phase.value], count)
        yield jobs
        executor = executor_status(service)
        for name, help_text, value in (
            ("slots", "Jobs this process's executor may run at once.", executor["slots"]),
            ("running", "Jobs this process's executor is running.", executor["running"]),
            ("queued", "Jobs this process's executor holds queued.", executor["queued"]),
        ):
            if value is not None:
                yield GaugeMetricFamily(f"wsrf_uws_executor_{name}", help_text, value=value)

    def _job_counts(self, service: JobService) -> dict[tuple[str, Phase], int]:
        with self._lock:
            now = self._clock()
            if self._read_at is None or now - self._read_at >= self._cache_seconds:
                try:
                    counts = service.store.count_by_contract_and_phase()
                except Exception as exc:  # the store away: the last counts, and /health says why
                    log.warning("metrics: counting the jobs failed: %s", exc)
                else:
                    self._counts = counts
                # Tried again only after cache_seconds, whether it worked or not.
                self._read_at = now
            return dict(self._counts)
