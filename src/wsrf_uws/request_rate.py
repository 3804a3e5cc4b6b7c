"""How much one client address may ask of the service a second: a token bucket per address.

A client that sends requests as fast as the service answers them takes the service's
threads and processor from everyone else, even when each request is refused (a quota
refusal still costs a parse, a check and a fault; a megabyte body costs its reading).
Each request costs a token, and one more for every :data:`UNIT_BYTES` of its body; an
address may spend ``burst`` tokens at once and gains ``rate`` a second. The HTTP server
asks :meth:`RequestRate.take` when a request's header has arrived, and refuses it (HTTP
429 with ``Retry-After``) before its body is read (see :mod:`wsrf_uws.waitress_compat`).
Behind a reverse proxy every request comes from the proxy's address: switch it off there
(rate 0) and limit at the proxy.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

#: A request costs one token more for each of these many bytes of its body.
UNIT_BYTES = 64 * 1024

#: Addresses remembered at most; beyond, those whose bucket has refilled are forgotten.
MAX_TRACKED_CLIENTS = 65_536


class RequestRate:
    """Token buckets of ``burst`` tokens, refilled at ``rate`` a second, one per address."""

    def __init__(
        self, *, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a request rate limit needs a positive rate and burst")
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # address -> (tokens, when)
        self._lock = threading.Lock()

    @staticmethod
    def cost(body_bytes: int) -> int:
        """The tokens a request with a body of ``body_bytes`` costs."""
        return 1 + max(0, body_bytes) // UNIT_BYTES

    def take(self, address: str, *, body_bytes: int = 0) -> float:
        """Spend the tokens of one request from ``address``: 0, or the seconds to wait.

        A refused request spends nothing. A request costing more than ``burst`` can
        never pass at once; it is let through when the bucket is full, and leaves it
        in debt (a client waits for that debt to be paid off).
        """
        cost = self.cost(body_bytes)
        now = self.clock()
        with self._lock:
            tokens, when = self._buckets.get(address, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - when) * self.rate)
            if tokens >= min(cost, self.burst):
                self._buckets[address] = (tokens - cost, now)
                if len(self._buckets) > MAX_TRACKED_CLIENTS:
                    self._forget_refilled(now)
                return 0.0
            self._buckets[address] = (tokens, now)
            return (min(cost, self.burst) - tokens) / self.rate

    def _forget_refilled(self, now: float) -> None:
        """Drop the addresses whose bucket is full again: they are as good as new."""
        full = [
            address
            for address, (tokens, when) in self._buckets.items()
            if tokens + (now - when) * self.rate >= self.burst
        ]
        for address in full:
            del self._buckets[address]
