"""``wsrf-uws settings``: the effective configuration, as a TOML file that could be read back.

Every setting is printed with its value as validated (defaults included), then each
installed contract's section with its own settings and the service's keys of it
(``executor``, ``[NAME.slurm]``). Relative paths are printed absolute (from the working
folder), since in a configuration file they would be relative to the file. TOML has no
null: a setting that is not set is a comment, ``# public_url: not set``. Secrets
(``database_url``) are masked.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import tomli_w

from ..core.contract import ContractSettingsError
from ..core.registry import installed_contracts
from ..settings import ContractExecution, Settings, paths_relative_to
from .guard import DONE, USAGE, fail


def effective_settings(settings: Settings) -> dict[str, Any]:
    """The settings as JSON-able values: the service's, then each contract's section.

    Raises :class:`ContractSettingsError` when a contract's section is not valid.
    """
    here = Path.cwd()  # relative paths are printed absolute, to mean the same in any file
    values: dict[str, Any] = {}
    sections = settings.contract_sections
    dumped = settings.model_dump(mode="json")
    for name, value in paths_relative_to(here, dumped, Settings).items():
        if name not in sections:
            values[name] = value
    classes, _ = installed_contracts()
    for name, contract_class in sorted(classes.items()):
        section: dict[str, Any] = {}
        model = contract_class.settings_model
        if model is not None:
            own = settings.contract_settings(name, model).model_dump(mode="json")
            section.update(paths_relative_to(here, own, model))
        execution = settings.contract_execution(name).model_dump(mode="json")
        section.update(paths_relative_to(here, execution, ContractExecution))
        values[name] = section
    for name in sorted(set(sections) - set(classes)):
        values[name] = sections[name]
        print(f"# [{name}] names no installed contract", file=sys.stderr)
    return values


def settings_command(settings: Settings, *, as_json: bool) -> int:
    """Print the effective settings (TOML, or JSON with ``as_json``)."""
    try:
        values = effective_settings(settings)
    except ContractSettingsError as exc:
        fail(f"bad configuration: {exc}")
        return USAGE
    sys.stdout.write(json.dumps(values, indent=2) + "\n" if as_json else to_toml(values))
    return DONE


def to_toml(values: dict[str, Any]) -> str:
    """``values`` as TOML: plain values first, then one table per section; a None is a
    comment (TOML has no null)."""
    plain = {k: v for k, v in values.items() if not isinstance(v, dict)}
    out = [_unset_comments(plain, "") + tomli_w.dumps(_without_none(plain))]
    for name, table in values.items():
        if isinstance(table, dict):
            body = tomli_w.dumps({name: _without_none(table)})
            out.append("\n" + _unset_comments(table, f"{name}.") + body)
    return "".join(out)


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value if v is not None]
    return value


def _unset_comments(table: dict[str, Any], prefix: str) -> str:
    """``# name: not set`` for each None in ``table`` (and its sub-tables)."""
    lines = []
    for key, value in table.items():
        if value is None:
            lines.append(f"# {prefix}{key}: not set\n")
        elif isinstance(value, dict):
            lines.append(_unset_comments(value, f"{prefix}{key}."))
    return "".join(lines)
