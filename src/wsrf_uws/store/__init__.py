"""Durable persistence of job resources behind one interface (:class:`JobStore`)."""

from .base import JobStore, StoreError
from .files import JobFiles
from .sqlite import SQLiteJobStore

__all__ = ["JobFiles", "JobStore", "SQLiteJobStore", "StoreError"]
