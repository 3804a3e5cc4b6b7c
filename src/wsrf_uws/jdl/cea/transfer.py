"""Moving a ``cea`` job's bytes in and out over HTTP: the shared transfer code, as cea uses it.

A ``cea`` job may name a *remote* input (a URI whose content the service fetches into the job's
folder) and an output *destination* (a URI to which the service copies an output file when the
job completes). Both URIs come from clients, so the contract holds two policies built from its
settings (``[cea] fetch_allow`` and ``deliver_allow``): :mod:`.jdl` checks each URI against them
at createJob (syntax only, no network), and :mod:`.runner` moves the bytes in the job's worker
process with :func:`fetch` (at most ``max_input_bytes``) and :func:`deliver`.

The policy, the hardened HTTP transfers and their error texts are shared with the other
contracts (:mod:`wsrf_uws.vo.transfer`, :mod:`wsrf_uws.vo.transfer_policy`); this module names
what cea uses of them.
"""

from __future__ import annotations

from ...vo.transfer import (
    PUBLIC_URL,
    UNREACHABLE,
    TransferError,
    TransferPolicy,
    TransferRefused,
    deliver,
    fetch,
)

__all__ = [
    "PUBLIC_URL",
    "UNREACHABLE",
    "TransferError",
    "TransferPolicy",
    "TransferRefused",
    "deliver",
    "fetch",
]
