"""A contract for the warm-start tests: ``steps`` whose jobs use modules that cannot be
preloaded, one starting a thread when imported (:mod:`thread_at_import`), one missing.

A job writes the result ``preloaded.txt``: whether the threaded module was imported
already when the job began (it must not be: its warm parent left it out, so the job
imports it itself, cold), then does what a ``steps`` job does.
"""

from __future__ import annotations

import importlib
import sys

from wsrf_uws.core.contract import JobContext
from wsrf_uws.jdl.steps.contract import StepsContract, StepsJob

THREADED = "thread_at_import"
MISSING = "no_such_module_of_the_warm_start_tests"


class UnpreloadableContract(StepsContract):
    """``steps`` declaring two modules no warm parent can preload."""

    preload = (THREADED, MISSING)

    def run(self, description: StepsJob, context: JobContext) -> None:
        preloaded = THREADED in sys.modules
        importlib.import_module(THREADED)
        context.write_result("preloaded.txt", str(preloaded).encode(), mime_type="text/plain")
        super().run(description, context)
