"""Who may do what, and what anyone else sees: the access policy of the spaces
(pattern §3.3).

Only a space's owner creates, changes or deletes anything in it. Reading is the
owner's too, unless a node carries ``core#ispublic`` (or ``core#publicread``) =
``true``: then anyone, anonymous callers included, may read that node. Anonymous
callers never write: nothing tells one anonymous caller from another.

To anyone but its owner a space shows only its public nodes. Every other path in it,
whether a node exists there or not, answers exactly as the same path in a space that
does not exist (:func:`unknown`): 404, the same fault name and the same sentence, so
nobody learns which spaces, files or folders another user has. PermissionDenied (403)
is answered only about a node the caller can see: writing to a public node, or into a
public container, of someone else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...core.model import ANONYMOUS
from .errors import ContainerNotFound, LinkFound, NodeNotFound, PermissionDenied, VOSpaceFault
from .names import NodePath, format_path
from .nodes import Node, Space
from .properties import is_public

if TYPE_CHECKING:
    from .store import SpaceStore

#: The faults resolving a path raises when something on it is missing or in the way.
_NOT_FOUND = (NodeNotFound, ContainerNotFound, LinkFound)


def can_read(caller: str, node: Node) -> bool:
    """Whether ``caller`` may read ``node`` (its metadata, its children, its bytes)."""
    return caller == node.owner or is_public(node.properties)


def unknown(path: NodePath) -> VOSpaceFault:
    """The fault a path in a space that does not exist answers (the store's own words),
    which is also the answer to every path a caller may not see."""
    where = format_path(path[:1])
    if len(path) == 1:
        return NodeNotFound(f"{where} does not exist")
    return ContainerNotFound(f"{where} does not exist")


def owns_space(store: SpaceStore, caller: str, path: NodePath) -> bool:
    """Whether ``caller`` owns the space ``path`` lies in (expired or not)."""
    space = store.space(path[0]) if path else None
    return space is not None and space.owner == caller


def visible_node(store: SpaceStore, caller: str, path: NodePath) -> tuple[Space, Node]:
    """The node at ``path`` (at least one name) and its space, as ``caller`` sees them.

    The space's owner gets the store's own faults (NodeNotFound, ContainerNotFound,
    LinkFound). Anyone else gets :func:`unknown` for a node they may not read and for
    any fault on the way, so that a private node, a missing one and a missing space
    answer alike.
    """
    try:
        space, node = store.get_node(path)
    except _NOT_FOUND:
        if owns_space(store, caller, path):
            raise
        raise unknown(path) from None
    if not can_read(caller, node):
        raise unknown(path)
    return space, node


def refuse_anonymous_writes(caller: str, path: NodePath) -> None:
    """Raise PermissionDenied for an anonymous caller, whatever ``path`` holds (so the
    answer says nothing about it)."""
    if caller == ANONYMOUS:
        raise PermissionDenied(
            f"anonymous callers may not change {format_path(path)}: authenticate (HTTP Basic) "
            "as the space's owner"
        )


def writable_node(store: SpaceStore, caller: str, path: NodePath) -> tuple[Space, Node]:
    """The existing node at ``path`` and its space, which ``caller`` may change or
    delete; otherwise PermissionDenied (anonymous callers, or a node the caller can see
    but does not own) or :func:`unknown` (a node the caller cannot see)."""
    refuse_anonymous_writes(caller, path)
    space, node = visible_node(store, caller, path)
    if caller != node.owner:
        raise PermissionDenied(_owner_only(path))
    return space, node


def require_parent_writable(store: SpaceStore, caller: str, path: NodePath) -> None:
    """Refuse creating a node at ``path`` (at least two names) unless ``caller`` owns
    its live space: PermissionDenied for anonymous callers and below a container the
    caller can see, :func:`unknown` of ``path`` otherwise (which is also what a missing
    or expired space answers). Whether the parent itself exists is the store's to say,
    to the owner, when it creates the node."""
    refuse_anonymous_writes(caller, path)
    space = store.space(path[0])
    if space is not None and space.owner == caller and not space.is_expired(store.clock.now()):
        return
    try:
        visible_node(store, caller, path[:-1])
    except _NOT_FOUND:
        raise unknown(path) from None
    raise PermissionDenied(_owner_only(path))


def _owner_only(path: NodePath) -> str:
    return f"only the owner of {format_path(path[:1])} may create, change or delete nodes in it"
