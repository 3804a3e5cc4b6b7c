"""Who may do what: the access policy of the spaces (pattern §3.3).

Only a space's owner creates, changes or deletes anything in it. Reading is the
owner's too, unless a node carries ``core#ispublic`` (or ``core#publicread``) =
``true``: then anyone, anonymous callers included, may read that node. Anonymous
callers never write: nothing tells one anonymous caller from another.
"""

from __future__ import annotations

from ...core.model import ANONYMOUS
from .errors import PermissionDenied
from .names import format_path
from .nodes import Node
from .properties import is_public


def can_read(caller: str, node: Node) -> bool:
    """Whether ``caller`` may read ``node`` (its metadata, its children, its bytes)."""
    return caller == node.owner or is_public(node.properties)


def require_read(caller: str, node: Node) -> None:
    """Raise PermissionDenied unless ``caller`` may read ``node``."""
    if not can_read(caller, node):
        who = "anonymous callers" if caller == ANONYMOUS else f"{caller!r}"
        raise PermissionDenied(
            f"{format_path(node.path)} is private to its space's owner; {who} may not read it"
        )


def require_write(caller: str, *, owner: str, path: tuple[str, ...]) -> None:
    """Raise PermissionDenied unless ``caller`` owns the space ``path`` lies in."""
    if caller == ANONYMOUS:
        raise PermissionDenied(
            f"anonymous callers may not change {format_path(path)}: authenticate (HTTP Basic) "
            "as the space's owner"
        )
    if caller != owner:
        raise PermissionDenied(
            f"only the owner of {format_path(path[:1])} may create, change or delete nodes in it"
        )
