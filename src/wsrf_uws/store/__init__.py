"""Durable persistence of job resources: implementations of
:class:`~wsrf_uws.core.ports.JobStore`.

:class:`SQLiteJobStore` is the embedded default. :mod:`wsrf_uws.store.postgres` (not
imported here: psycopg is an optional dependency) keeps the jobs in PostgreSQL, for
several nodes sharing one store.
"""

from .sqlite import SQLiteJobStore

__all__ = ["SQLiteJobStore"]
