"""Durable persistence of job resources behind one interface (:class:`JobStore`)."""

from .base import JobStore, LiveJobsLimitError, ResourceIdTakenError, StoreError
from .files import JobFiles
from .sqlite import SQLiteJobStore

__all__ = [
    "JobFiles",
    "JobStore",
    "LiveJobsLimitError",
    "ResourceIdTakenError",
    "SQLiteJobStore",
    "StoreError",
]
