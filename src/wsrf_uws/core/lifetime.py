"""How long resources live: the termination-time policy (WS-ResourceLifetime semantics)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Literal

from ..wire.times import as_utc
from .errors import TerminationTimeRejectedError, UnableToSetTerminationTimeError


class _Default(Enum):
    TOKEN = "default"  # noqa: S105 - a sentinel, not a password


#: Marks an argument the caller did not give (distinct from ``None``, which means "infinite").
DEFAULT = _Default.TOKEN
Default = Literal[_Default.TOKEN]


@dataclass(frozen=True)
class TerminationPolicy:
    """The service's rules for termination times.

    - A new resource lives ``default_lifetime`` unless the client or the contract asks
      otherwise.
    - No termination time may lie more than ``max_lifetime`` ahead of the moment it is
      set; asking for more is refused (:class:`TerminationTimeRejectedError`). A lifetime
      a contract *proposes* from its JDL is an offer and is capped instead.
    - ``None`` (nil, an infinite lifetime) is accepted only when ``allow_infinite``.
    - A time at or before now, given to :meth:`change`, means "destroy now".
    """

    default_lifetime: timedelta
    max_lifetime: timedelta
    allow_infinite: bool = False

    def latest(self, now: datetime) -> datetime:
        """The latest termination time that may be set at ``now``."""
        return now + self.max_lifetime

    def initial(
        self,
        now: datetime,
        *,
        requested: datetime | Default | None = DEFAULT,
        proposed_lifetime: timedelta | None = None,
    ) -> datetime | None:
        """Termination time of a resource created at ``now``.

        ``requested`` is what the client asked in createJob; ``proposed_lifetime`` is
        what the contract derived from the JDL (used when the client asked nothing).
        """
        if requested is DEFAULT:
            lifetime = proposed_lifetime or self.default_lifetime
            return now + min(lifetime, self.max_lifetime)
        checked = self._check(now, requested)
        if checked is not None and checked <= now:
            raise UnableToSetTerminationTimeError(
                "the initial termination time lies in the past; the resource would never exist"
            )
        return checked

    def change(self, now: datetime, requested: datetime | None) -> datetime | None:
        """Validate a SetTerminationTime request; a result ``<= now`` means destroy now."""
        return self._check(now, requested)

    def _check(self, now: datetime, requested: datetime | None) -> datetime | None:
        if requested is None:
            if not self.allow_infinite:
                raise UnableToSetTerminationTimeError(
                    "this service does not grant infinite lifetimes; give a termination time"
                )
            return None
        requested = as_utc(requested)
        latest = self.latest(now)
        if requested > latest:
            raise TerminationTimeRejectedError(requested, latest)
        return requested
