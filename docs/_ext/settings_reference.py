"""Sphinx extension: the configuration reference, generated from the settings models.

The directive ``settings-table`` renders one pydantic model as a table of its fields (the
setting, its default as TOML writes it, the values allowed, the field's own description),
so docs/configuration.md can never disagree with :mod:`wsrf_uws.settings` or a contract's
settings model::

    ```{settings-table} wsrf_uws.settings.HttpSettings
    :section: http
    ```

    ```{settings-table}
    :contract: cea
    ```

With ``:contract:`` the model is the installed contract's ``settings_model``. At the end
of reading, the build fails (a warning, and the docs are built with ``-W``) when a table of
the service's settings (a nested model of :class:`~wsrf_uws.settings.Settings`) or a
shipped contract's settings has no table anywhere in the docs.
"""

from __future__ import annotations

import importlib
from datetime import timedelta
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import annotated_types
from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

LOGGER = logging.getLogger(__name__)

#: Where the service's own contracts live: each must have its settings documented.
SHIPPED_CONTRACTS = "wsrf_uws.jdl."


def import_model(dotted: str) -> type[BaseModel]:
    """The class named by ``package.module.Class``."""
    module_name, _, name = dotted.rpartition(".")
    model = getattr(importlib.import_module(module_name), name)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise TypeError(f"{dotted} is not a pydantic model")
    return model


def contract_models() -> dict[str, type[BaseModel] | None]:
    """Each installed contract's settings model (None: it has no settings), by name."""
    found: dict[str, type[BaseModel] | None] = {}
    for point in entry_points(group="wsrf_uws.contracts"):
        found[point.name] = getattr(point.load(), "settings_model", None)
    return found


def shipped_contracts() -> set[str]:
    """The contracts this distribution ships that have settings of their own."""
    return {
        point.name
        for point in entry_points(group="wsrf_uws.contracts")
        if point.value.startswith(SHIPPED_CONTRACTS)
        and getattr(point.load(), "settings_model", None) is not None
    }


def format_duration(value: timedelta) -> str:
    """An ISO 8601 duration, as the settings accept it (``P7D``, ``PT1H30M``)."""
    seconds = value.total_seconds()
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, whole = divmod(rest, 60)
    fraction = seconds - int(seconds)
    text = "P" + (f"{days}D" if days else "")
    time = (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    if whole or fraction:
        time += f"{whole + fraction:g}S"
    return text + ("T" + time if time else "") if (days or time) else "PT0S"


def binary_size(value: int) -> str:
    """``4 GiB`` for 4294967296; empty when the number is not a whole KiB, MiB, ..."""
    for unit, size in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if value >= size and value % (size // 16) == 0:
            return f"{value / size:g} {unit}"
    return ""


def toml_value(value: Any) -> str:
    """``value`` as it is written in the TOML file."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, timedelta):
        return f'"{format_duration(value)}"'
    if isinstance(value, SecretStr):
        return '""'
    if isinstance(value, str | Path):
        return f'"{value}"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return (
            "{}"
            if not value
            else "{" + ", ".join(f"{key} = {toml_value(item)}" for key, item in value.items()) + "}"
        )
    return str(value)


def default_text(field: FieldInfo, name: str, section: str) -> str:
    """The default of ``field`` for the table's "default" column (Markdown)."""
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
    elif field.default is PydanticUndefined:
        return "required"
    else:
        value = field.default
    if isinstance(value, BaseModel):
        return f"the table `[{qualified(section, name)}]`"
    if value is None:
        return "none"
    text = f"`{toml_value(value)}`"
    if isinstance(value, int) and not isinstance(value, bool) and name.endswith("bytes"):
        size = binary_size(value)
        if size:
            text += f" ({size})"
    return text


def allowed_text(field: FieldInfo) -> str:
    """The values ``field`` accepts, from its type and constraints (Markdown)."""
    parts: list[str] = []
    for constraint in field.metadata:
        for kind, attribute, sign in (
            (annotated_types.Ge, "ge", "≥"),
            (annotated_types.Gt, "gt", ">"),
            (annotated_types.Le, "le", "≤"),
            (annotated_types.Lt, "lt", "<"),
        ):
            if isinstance(constraint, kind):
                parts.append(f"{sign}\u00a0{getattr(constraint, attribute)}")
        pattern = getattr(constraint, "pattern", None)
        if pattern:
            parts.append(f"`{pattern}`")
    options = literal_options(field.annotation)
    if options:
        parts.append(", ".join(f"`{toml_value(option)}`" for option in options))
        if any(arg is Path for arg in get_args(field.annotation)):
            parts.append("or a path")
    return ", ".join(parts)


def literal_options(annotation: Any) -> list[Any]:
    """The values of the ``Literal`` in ``annotation`` (also inside a union)."""
    if get_origin(annotation) is Literal:
        return list(get_args(annotation))
    options: list[Any] = []
    for arg in get_args(annotation):
        options += literal_options(arg)
    return options


def qualified(section: str, name: str) -> str:
    """``section.name``, or ``name`` at the top level."""
    return f"{section}.{name}" if section else name


def environment_name(section: str) -> str:
    """The environment variables of ``section``: ``WSRF_UWS_HTTP__{SETTING}``."""
    parts = [part.upper() for part in section.split(".") if part] if section else []
    return "WSRF_UWS_" + "".join(f"{part}__" for part in parts) + "{SETTING}"


def cell(text: str) -> str:
    """``text`` made safe for one cell of a Markdown table."""
    return " ".join(text.split()).replace("|", "\\|")


def table_lines(model: type[BaseModel], section: str, exclude: set[str]) -> list[str]:
    """The Markdown lines of the table of ``model``'s settings."""
    where = f"`[{section}]`" if section else "the top level of the file"
    lines = [
        f"In TOML at {where}; in the environment as `{environment_name(section)}`.",
        "",
        "| setting | default | allowed | meaning |",
        "|---|---|---|---|",
    ]
    for name, field in model.model_fields.items():
        if name in exclude:
            continue
        description = field.description or ""
        if not description:
            LOGGER.warning("setting %s of %s has no description", name, model.__name__)
        lines.append(
            "| "
            + " | ".join(
                cell(text)
                for text in (
                    f"`{name}`",
                    default_text(field, name, section),
                    allowed_text(field),
                    description,
                )
            )
            + " |"
        )
    return lines


class SettingsTable(SphinxDirective):
    """``settings-table``: the table of one settings model's fields."""

    optional_arguments = 1
    option_spec = {
        "section": directives.unchanged,
        "contract": directives.unchanged,
        "exclude": directives.unchanged,
    }

    def run(self) -> list[nodes.Node]:
        contract = self.options.get("contract")
        if contract:
            model = contract_models().get(contract)
            if model is None:
                raise self.error(f"contract {contract!r} is not installed or has no settings")
            section = self.options.get("section", contract)
        elif self.arguments:
            model = import_model(self.arguments[0])
            section = self.options.get("section", "")
        else:
            raise self.error("settings-table needs a model or :contract:")
        exclude = set(self.options.get("exclude", "").split())
        self.env.settings_tables = getattr(self.env, "settings_tables", {})  # type: ignore[attr-defined]
        self.env.settings_tables[(self.env.docname, section)] = (  # type: ignore[attr-defined]
            model.__module__ + "." + model.__qualname__,
            contract or "",
        )
        container = nodes.container(classes=["settings-table"])
        self.state.nested_parse(
            StringList(table_lines(model, section, exclude), self.get_source_info()[0]),
            self.content_offset,
            container,
        )
        return [container]


def forget_document(app: Sphinx, env: BuildEnvironment, docname: str) -> None:
    """Drop the tables of a document about to be read again."""
    tables = getattr(env, "settings_tables", {})
    for key in [key for key in tables if key[0] == docname]:
        del tables[key]


def merge_tables(
    app: Sphinx, env: BuildEnvironment, docnames: set[str], other: BuildEnvironment
) -> None:
    """Tables read by a parallel reader."""
    env.settings_tables = getattr(env, "settings_tables", {})  # type: ignore[attr-defined]
    env.settings_tables.update(getattr(other, "settings_tables", {}))  # type: ignore[attr-defined]


def check_every_section(app: Sphinx, env: BuildEnvironment) -> None:
    """Warn about a section of the service or a shipped contract that has no table."""
    tables = getattr(env, "settings_tables", {})
    sections = {section for _, section in tables}
    contracts = {contract for _, contract in tables.values() if contract}
    settings = import_model("wsrf_uws.settings.Settings")
    expected = {""} | {
        name
        for name, field in settings.model_fields.items()
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)
    }
    for section in sorted(expected - sections):
        LOGGER.warning("the settings [%s] have no settings-table in the docs", section or "top")
    for contract in sorted(shipped_contracts() - contracts):
        LOGGER.warning("the settings of contract %s have no settings-table in the docs", contract)


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the directive and the check."""
    app.add_directive("settings-table", SettingsTable)
    app.connect("env-purge-doc", forget_document)
    app.connect("env-merge-info", merge_tables)
    app.connect("env-check-consistency", check_every_section)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
