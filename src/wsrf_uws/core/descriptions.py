"""A job's description kept with the job: read once at createJob, never again.

At createJob the contract reads the JDL (:meth:`Contract.read`: schema validation, then
``describe``, which may do real work, such as translating a query into SQL). The description
is pickled into the job's record (:func:`keep`), travels to the worker in the
:class:`~wsrf_uws.core.ports.RunSpec` and is unpickled there (:func:`restore`), so a run
neither validates nor translates again; after a restart it is still there.

Two cases fall back to reading the stored JDL again, in the worker: a description that
does not pickle (the default ``describe`` returns the lxml element, which does not), and
one that no longer unpickles after an upgrade changed the contract's classes, or that was
recorded by a version that kept none.
"""

from __future__ import annotations

import logging
import pickle
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .contract import Contract

log = logging.getLogger(__name__)


def keep(description: Any) -> bytes | None:
    """``description`` as stored with the job, or None if it does not pickle."""
    try:
        return pickle.dumps(description, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        log.debug("a description of %s does not pickle: %s", type(description).__name__, exc)
        return None


def restore(contract: Contract, kept: bytes | None, jdl: bytes) -> Any:
    """The description ``kept`` at createJob; ``jdl`` read again if there is none, or it
    does not unpickle (the contract's classes changed since)."""
    if kept is not None:
        try:
            return pickle.loads(kept)  # noqa: S301 (written by this service at createJob)
        except Exception as exc:
            log.warning(
                "contract %r: a kept description does not unpickle (%s: %s); reading the JDL again",
                contract.name,
                type(exc).__name__,
                exc,
            )
    return contract.parse(jdl)
