"""The registry of installed contracts.

Contracts are found through the ``wsrf_uws.contracts`` entry-point group: a
distribution declares, in its ``pyproject.toml``::

    [project.entry-points."wsrf_uws.contracts"]
    mycontract = "my_package.contract:MyContract"

The entry point names a :class:`~wsrf_uws.core.contract.Contract` subclass whose
``name`` is the entry point's name. The registry has its settings section validated
(the :data:`EnvironmentFactory` the service passes does that, against the class's
``settings_model``), builds it with its :class:`~wsrf_uws.core.contract.ContractEnvironment`
and checks what it declares (name, namespace, a schema that declares its elements). A
contract that fails to load is logged and reported in :attr:`ContractRegistry.failures`;
the others still serve. A failure that is the configuration's fault (an invalid
settings section, a contract enabled but not installed) is also in
:attr:`ContractRegistry.misconfigured`, and ``wsrf-uws serve`` refuses to start then.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Collection, Iterable, Iterator
from importlib.metadata import entry_points
from typing import Any

from lxml import etree

from ..wire.parsing import safe_parser
from .contract import Contract, ContractEnvironment, ContractSettingsError
from .errors import ContractUnknownError

ENTRY_POINT_GROUP = "wsrf_uws.contracts"

#: What a contract name may be: it names a URL segment, a settings section and the
#: environment variables of that section (``WSRF_UWS_{NAME}__{FIELD}``).
CONTRACT_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")

#: Builds the environment of the contract with this name and settings model (None: it
#: has no settings); raises :class:`ContractSettingsError` when its section is not valid.
EnvironmentFactory = Callable[[str, type[Any] | None], ContractEnvironment]

_XSD = "http://www.w3.org/2001/XMLSchema"

log = logging.getLogger(__name__)


class ContractRegistry:
    """The contracts a service offers, by name."""

    def __init__(self, contracts: Iterable[Contract] = ()) -> None:
        self._contracts: dict[str, Contract] = {}
        #: Entry points that could not be loaded: name → reason.
        self.failures: dict[str, str] = {}
        #: The failures that are the configuration's fault (``serve`` refuses to start).
        self.misconfigured: set[str] = set()
        for contract in contracts:
            self.register(contract)

    def register(self, contract: Contract) -> None:
        """Add ``contract`` after checking what it declares; its name must not be taken."""
        check_declaration(contract)
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
        cls,
        environment: EnvironmentFactory | None = None,
        *,
        enabled: Collection[str] | None = None,
    ) -> ContractRegistry:
        """Build every installed contract (or only those named in ``enabled``).

        ``environment`` gives each its environment (default: a
        :class:`ContractEnvironment` of defaults, the contract's settings at theirs).
        """
        if environment is not None and not callable(environment):
            raise TypeError(f"environment must build environments, not {environment!r}")
        registry = cls()
        classes, failures = installed_contracts(enabled=enabled)
        registry.failures.update(failures)
        for name, contract_class in classes.items():
            try:
                if environment is None:
                    contract = contract_class()
                else:
                    contract = contract_class(environment(name, contract_class.settings_model))
                registry.register(contract)
            except ContractSettingsError as exc:
                registry.failures[name] = str(exc)
                registry.misconfigured.add(name)
                log.error("contract %r not loaded: %s", name, exc)
            except Exception as exc:
                registry.failures[name] = f"{type(exc).__name__}: {exc}"
                log.exception("contract %r could not be loaded", name)
        if enabled is not None:
            missing = set(enabled) - set(registry.names()) - set(registry.failures)
            for name in missing:
                registry.failures[name] = "enabled in the settings but not installed"
                registry.misconfigured.add(name)
        return registry


def installed_contracts(
    *, enabled: Collection[str] | None = None
) -> tuple[dict[str, type[Contract]], dict[str, str]]:
    """The contract classes the entry points name (only ``enabled`` ones, if given), by
    name, and the entry points that do not name one, with the reason."""
    classes: dict[str, type[Contract]] = {}
    failures: dict[str, str] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if enabled is not None and ep.name not in enabled:
            continue
        try:
            loaded = ep.load()
            if not (isinstance(loaded, type) and issubclass(loaded, Contract)):
                raise TypeError(f"{ep.value} is not a Contract subclass")
            if loaded.name != ep.name:
                raise ValueError(f"entry point {ep.name!r} loads a contract named {loaded.name!r}")
            classes[ep.name] = loaded
        except Exception as exc:
            failures[ep.name] = f"{type(exc).__name__}: {exc}"
            log.exception("contract %r (%s) could not be loaded", ep.name, ep.value)
    return classes, failures


def installed_names() -> list[str]:
    """The names of the installed contracts' entry points, without loading them."""
    return sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def check_declaration(contract: Contract) -> None:
    """Refuse (ValueError) a contract whose class attributes do not make a contract.

    Its name must be a :data:`CONTRACT_NAME`; it needs a namespace and a JDL element; its
    schema is mandatory and must declare, in the contract's namespace, the JDL element,
    the state element, the resource-property document and every operation's wrappers,
    which the WSDL names (:mod:`wsrf_uws.soap.wsdl`).
    """
    if not contract.name or not contract.namespace:
        raise ValueError(f"{contract!r} must declare a name and a namespace")
    if not CONTRACT_NAME.fullmatch(contract.name):
        raise ValueError(
            f"the contract name {contract.name!r} must be lowercase letters, digits and _, "
            "beginning with a letter"
        )
    if not contract.jdl_element:
        raise ValueError(f"contract {contract.name!r} must declare its jdl_element")
    path = contract.schema_path
    if path is None:
        raise ValueError(
            f"contract {contract.name!r} declares no schema_path: the schema is mandatory "
            "(it declares the JDL and the operations the WSDL names)"
        )
    if not path.is_file():
        raise ValueError(f"contract {contract.name!r}: its schema {path} does not exist")
    schema = etree.parse(str(path), safe_parser()).getroot()
    target = schema.get("targetNamespace")
    if target != contract.namespace:
        raise ValueError(
            f"contract {contract.name!r}: its schema {path.name} has the target namespace "
            f"{target!r}, not the contract's {contract.namespace!r}"
        )
    declared = {e.get("name") for e in schema.iterchildren(f"{{{_XSD}}}element")}
    missing = [name for name in required_elements(contract) if name not in declared]
    if missing:
        raise ValueError(
            f"contract {contract.name!r}: its schema {path.name} does not declare "
            f"{', '.join(missing)} (see docs/writing-a-contract.md)"
        )


def required_elements(contract: Contract) -> list[str]:
    """The global elements a contract's schema must declare, by local name."""
    names = [contract.jdl_element]
    if contract.state_name:
        names.append(contract.state_name)
    names.append("JobProperties")
    for operation in ("createJob", "startJob", "resumeJob", *contract.extra_operations()):
        names += [operation, f"{operation}Response"]
    return names
