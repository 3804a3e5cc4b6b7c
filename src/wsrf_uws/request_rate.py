"""How much one client address may ask of the service a second: a token bucket per address.

A client that sends requests as fast as the service answers them takes the service's
threads and processor from everyone else, even when each request is refused (a quota
refusal still costs a parse, a check and a fault; a megabyte body costs its reading).
Each request costs a token, and one more for every :data:`UNIT_BYTES` of its body; an
address may spend ``burst`` tokens at once and gains ``rate`` a second. The HTTP server
asks :meth:`RequestRate.take` when a request's header has arrived, and refuses it (HTTP
429 with ``Retry-After``) before its body is read (see :mod:`wsrf_uws.waitress_compat`).
A refused client is then *held* for the ``Retry-After`` it was given: the server reads
nothing more from any of its connections until then (:meth:`RequestRate.held_for`), so a
client that ignores the header costs the service one refusal per hold, not one per
request it sends.
Behind a reverse proxy every request comes from the proxy's address: switch it off there
(rate 0) and limit at the proxy.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

#: A request costs one token more for each of these many bytes of its body.
UNIT_BYTES = 64 * 1024

#: Clients remembered at most; beyond, the least recently seen is forgotten.
MAX_TRACKED_CLIENTS = 65_536


class RequestRate:
    """Token buckets of ``burst`` tokens, refilled at ``rate`` a second, one per client.

    A client is an IPv4 address, or an IPv6 /64 (one host's usual share, so that
    addresses of one network do not each get a bucket of their own). At most
    :data:`MAX_TRACKED_CLIENTS` are remembered, the least recently seen forgotten first:
    forgetting one gives it a full bucket, never a slower service for everyone.
    """

    def __init__(
        self, *, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a request rate limit needs a positive rate and burst")
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # (tokens, when)
        #: Clients refused, until when (``clock()``) nothing more of theirs is read.
        self._held: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def cost(self, body_bytes: int) -> int:
        """The tokens a request with a body of ``body_bytes`` costs: at most the burst.

        A body beyond what the burst covers costs the whole burst and no more, so that
        one large upload empties its client's bucket without leaving it locked out.
        """
        return min(self.burst, 1 + max(0, body_bytes) // UNIT_BYTES)

    def take(self, address: str, *, body_bytes: int = 0) -> float:
        """Spend the tokens of one request from ``address``: 0, or the seconds to wait.

        A refused request spends nothing, and holds its client for the whole seconds it
        is told to wait (at least one: what ``Retry-After`` can say).
        """
        cost = self.cost(body_bytes)
        client = client_key(address)
        now = self.clock()
        with self._lock:
            tokens, when = self._buckets.pop(client, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - when) * self.rate)
            passed = tokens >= cost
            self._buckets[client] = (tokens - cost if passed else tokens, now)
            if len(self._buckets) > MAX_TRACKED_CLIENTS:
                self._buckets.popitem(last=False)
            if passed:
                return 0.0
            wait = (cost - tokens) / self.rate
            self._held.pop(client, None)
            self._held[client] = now + retry_after(wait)
            if len(self._held) > MAX_TRACKED_CLIENTS:
                self._held.popitem(last=False)
            return wait

    def held_for(self, address: str) -> float:
        """Seconds during which nothing more is read from ``address``: 0 when none.

        Asked by the event loop of every connection on each turn, so it takes no lock
        (one dictionary read is atomic) and forgets nothing (:meth:`take` does).
        """
        until = self._held.get(client_key(address))
        if until is None:
            return 0.0
        return max(0.0, until - self.clock())


def retry_after(wait: float) -> int:
    """The whole seconds a client told to wait ``wait`` seconds is asked to wait: at least 1."""
    return max(1, math.ceil(wait))


def client_key(address: str) -> str:
    """The client an address belongs to: itself for IPv4, its /64 network for IPv6."""
    if ":" not in address:
        return address
    try:
        return str(ipaddress.IPv6Network((address.split("%")[0], 64), strict=False))
    except ValueError:
        return address
