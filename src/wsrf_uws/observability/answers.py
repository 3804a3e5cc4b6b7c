"""A complete WSGI answer that no client or proxy keeps: the service's changing documents.

A job's phase, the health report and the metrics change under the same URL, so every
answer of theirs says ``Cache-Control: no-store``. Shared by the operator's routes
(:mod:`.http`) and the REST binding; imports nothing of the project, so any layer may.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

StartResponse = Callable[..., Any]


def uncached_answer(
    start_response: StartResponse,
    status: str,
    body: bytes,
    *,
    content_type: str,
    head: bool = False,
    headers: Iterable[tuple[str, str]] = (),
) -> list[bytes]:
    """Start ``status`` with ``body`` of ``content_type``, its length, ``no-store`` and
    ``headers``; the body to send (none for a HEAD request, whose length it still gives)."""
    start_response(
        status,
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
            *headers,
        ],
    )
    return [] if head else [body]
