"""The UWS 1.1 REST binding of the same jobs the SOAP binding serves.

:class:`JobListApplication` is one contract's job list, mountable at any path (the
service mounts every contract's under ``/rest/{contract}`` with :class:`RestRoutes`;
TAP mounts the ``adql`` one at ``/tap/async``). A browser gets HTML pages of the same
resources, with forms for their actions (:mod:`.html`). See ``docs/rest.md``.
"""

from __future__ import annotations

from .job_list import JobListApplication
from .routes import RestRoutes
from .waiting import JobWaits, WaitLimits

__all__ = ["JobListApplication", "JobWaits", "RestRoutes", "WaitLimits"]
