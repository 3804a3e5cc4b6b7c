"""Executors: where and how job work runs, behind one interface (:class:`Executor`)."""

from .base import ExecutionListener, Executor, Outcome, OutcomeKind, RunSpec
from .local import LocalExecutor

__all__ = ["ExecutionListener", "Executor", "LocalExecutor", "Outcome", "OutcomeKind", "RunSpec"]
