"""The state of a ``steps`` job: who created it, and the processes its run started."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class StepsState:
    """The owner at createJob (a test checks the contract is told who asks) and the pids of
    the children the run spawned (tests check the executor stops every one).

    Kept in the store as the JSON of :meth:`to_dict`: ``owner-at-creation`` and
    ``children``.
    """

    owner_at_creation: str | None = None
    children: tuple[int, ...] = ()

    def with_children(self, children: list[int]) -> StepsState:
        """This state once the run started ``children``."""
        return replace(self, children=tuple(children))

    def to_dict(self) -> dict[str, Any]:
        """The JSON-able form the store keeps."""
        data: dict[str, Any] = {}
        if self.owner_at_creation is not None:
            data["owner-at-creation"] = self.owner_at_creation
        if self.children:
            data["children"] = list(self.children)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StepsState:
        """The state a :meth:`to_dict` form describes."""
        owner = data.get("owner-at-creation")
        return cls(
            owner_at_creation=None if owner is None else str(owner),
            children=tuple(int(pid) for pid in data.get("children", ())),
        )
