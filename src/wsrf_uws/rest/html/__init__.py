"""Pages for people: the job list and job pages a browser gets from the REST binding.

:class:`JobPages` renders them (``text/html``, asked for with ``Accept``: see
:func:`wants_html`); :mod:`.tokens` holds the CSRF defence every browser ``POST`` passes.
"""

from __future__ import annotations

from .negotiation import wants_html
from .pages import JobPages
from .tokens import TOKEN_FIELD, FormTokens, load_secret, needs_token

__all__ = ["TOKEN_FIELD", "FormTokens", "JobPages", "load_secret", "needs_token", "wants_html"]
