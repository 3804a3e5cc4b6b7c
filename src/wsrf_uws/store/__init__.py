"""Durable persistence of job resources: the SQLite implementation of
:class:`~wsrf_uws.core.ports.JobStore`."""

from .sqlite import SQLiteJobStore

__all__ = ["SQLiteJobStore"]
