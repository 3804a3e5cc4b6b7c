"""Where and how job work runs: :class:`LocalExecutor`, the implementation of
:class:`~wsrf_uws.core.ports.Executor` that runs each job in a local worker process."""

from .local import LocalExecutor

__all__ = ["LocalExecutor"]
