"""What the VOSpace endpoint's route handlers share: their signature, and method checks."""

from __future__ import annotations

from collections.abc import Callable

from .errors import MethodNotAllowed, NodeNotFound
from .wsgi import Request, Response

#: A resource's handler: the request, and the rest of the path below the resource.
Route = Callable[[Request, str], Response]
#: Who is calling: the caller's name, or NotAuthenticated.
Caller = Callable[[Request], str]


def allow_methods(request: Request, tail: str, *methods: str) -> None:
    """Refuse a path below a leaf resource (404) and any method but ``methods`` (405)."""
    if tail:
        raise NodeNotFound(f"nothing is served below this resource ({tail!r})")
    if request.method not in methods:
        raise MethodNotAllowed(
            f"{request.method} is not defined here; use {' or '.join(methods)}",
            allow=", ".join(methods),
        )
