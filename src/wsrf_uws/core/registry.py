"""The registry of installed contracts.

Contracts are found through the ``wsrf_uws.contracts`` entry-point group: a
distribution declares, in its ``pyproject.toml``::

    [project.entry-points."wsrf_uws.contracts"]
    mycontract = "my_package.contract:MyContract"

The entry point names a :class:`~wsrf_uws.core.contract.Contract` subclass, which
the registry instantiates with the service settings. A contract that fails to load
is logged and reported in :attr:`ContractRegistry.failures`; the others still serve.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Iterator
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from .contract import Contract
from .errors import ContractUnknownError

if TYPE_CHECKING:
    from ..settings import Settings

ENTRY_POINT_GROUP = "wsrf_uws.contracts"

log = logging.getLogger(__name__)


class ContractRegistry:
    """The contracts a service offers, by name."""

    def __init__(self, contracts: Iterable[Contract] = ()) -> None:
        self._contracts: dict[str, Contract] = {}
        #: Entry points that could not be loaded: name → reason.
        self.failures: dict[str, str] = {}
        for contract in contracts:
            self.register(contract)

    def register(self, contract: Contract) -> None:
        """Add ``contract``; its name and namespace must be set and not already taken."""
        if not contract.name or not contract.namespace:
            raise ValueError(f"{contract!r} must declare a name and a namespace")
        if contract.name in self._contracts:
            raise ValueError(f"a contract named {contract.name!r} is already registered")
        self._contracts[contract.name] = contract

    def get(self, name: str) -> Contract:
        """The contract called ``name``; raises :class:`ContractUnknownError`."""
        try:
            return self._contracts[name]
        except KeyError:
            raise ContractUnknownError(name, self.names()) from None

    def names(self) -> list[str]:
        """Names of the registered contracts, sorted."""
        return sorted(self._contracts)

    def __contains__(self, name: object) -> bool:
        return name in self._contracts

    def __iter__(self) -> Iterator[Contract]:
        return iter(self._contracts[name] for name in self.names())

    def __len__(self) -> int:
        return len(self._contracts)

    @classmethod
    def from_entry_points(
        cls, settings: Settings | None = None, *, enabled: Collection[str] | None = None
    ) -> ContractRegistry:
        """Load every installed contract (or only those named in ``enabled``)."""
        registry = cls()
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if enabled is not None and ep.name not in enabled:
                continue
            try:
                factory = ep.load()
                contract = factory(settings)
                if not isinstance(contract, Contract):
                    raise TypeError(f"{ep.value} did not produce a Contract")
                if contract.name != ep.name:
                    raise ValueError(
                        f"entry point {ep.name!r} loads a contract named {contract.name!r}"
                    )
                registry.register(contract)
            except Exception as exc:
                registry.failures[ep.name] = f"{type(exc).__name__}: {exc}"
                log.exception("contract %r (%s) could not be loaded", ep.name, ep.value)
        if enabled is not None:
            for name in set(enabled) - set(registry.names()) - set(registry.failures):
                registry.failures[name] = "enabled in the settings but not installed"
        return registry
