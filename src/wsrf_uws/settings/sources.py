"""Where settings come from: the TOML file (its relative paths taken from its folder),
the environment, and a contract's section read with its own model."""

from __future__ import annotations

from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

from pydantic import BaseModel, Field, ValidationError, create_model
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from ..core.contract import ContractSettingsError
from .sections import EXECUTION_KEYS

_Model = TypeVar("_Model", bound=BaseModel)

#: The configuration file :meth:`~wsrf_uws.settings.Settings.load` is reading, for the
#: sources it customises (pydantic builds them without arguments of ours).
CONFIG_FILE_BEING_READ: ContextVar[Path | None] = ContextVar("wsrf_uws_config_file", default=None)


class TomlRelativeToFile(TomlConfigSettingsSource):
    """The TOML file's values, its relative paths (``data_dir = "var"``) taken as relative
    to the file's folder, not to wherever the command happens to run."""

    def __call__(self) -> dict[str, Any]:
        values = super().__call__()
        folder = Path(cast(Path, self.toml_file_path)).resolve().parent
        model = self.settings_cls
        service = {k: v for k, v in values.items() if k in model.model_fields}
        return {**values, **paths_relative_to(folder, service, model)}


def paths_relative_to(
    folder: Path, values: dict[str, Any], model: type[BaseModel]
) -> dict[str, Any]:
    """``values`` (a table of the configuration file, read as ``model``) with each relative
    path of a path-typed field, or of a table of one, made relative to ``folder``."""
    resolved = dict(values)
    for name, value in values.items():
        field = model.model_fields.get(name)
        if field is None:
            continue
        annotation = field.annotation
        nested = next(
            (
                kind
                for kind in (annotation, *getattr(annotation, "__args__", ()))
                if isinstance(kind, type) and issubclass(kind, BaseModel)
            ),
            None,
        )
        if nested is not None and isinstance(value, dict):
            resolved[name] = paths_relative_to(folder, value, nested)
        elif _is_path_type(annotation) and value not in _literals(annotation):
            if isinstance(value, str) and value and not Path(value).expanduser().is_absolute():
                resolved[name] = str(folder / value)
            elif isinstance(value, list):
                resolved[name] = [
                    str(folder / item)
                    if isinstance(item, str) and not Path(item).expanduser().is_absolute()
                    else item
                    for item in value
                ]
    return resolved


def _literals(annotation: Any) -> tuple[Any, ...]:
    """The values a ``Literal`` in ``annotation`` allows (``process_cgroup = "auto"``)."""
    if getattr(annotation, "__origin__", None) is Literal:
        return tuple(annotation.__args__)
    return tuple(v for a in getattr(annotation, "__args__", ()) for v in _literals(a))


def _is_path_type(annotation: Any) -> bool:
    """Whether ``annotation`` is ``Path``, ``Path | None``, ``list[Path]`` or the like."""
    if annotation is Path:
        return True
    return any(_is_path_type(argument) for argument in getattr(annotation, "__args__", ()))


def read_section(
    name: str, model: type[_Model], section: dict[str, Any], *, base: type[BaseSettings]
) -> _Model:
    """``section``, with the environment's ``WSRF_UWS_{NAME}__...`` over it, read as ``model``."""
    try:
        fields: dict[str, Any] = {name: (model, Field(default_factory=model))}
        source = create_model(f"{name}_section", __base__=base, **fields)
        values: dict[str, Any] = {name: section}
        value = getattr(source(**values), name)
    except ValidationError as exc:
        problems = "; ".join(_problem(error) for error in exc.errors())
        raise ContractSettingsError(f"the settings [{name}] are not valid: {problems}") from None
    return cast(_Model, value)


def _problem(error: Any) -> str:
    """One validation error of a section, as ``field.sub: message``."""
    where = ".".join(str(part) for part in error["loc"][1:])
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


class ContractSection(BaseSettings):
    """What :meth:`~wsrf_uws.settings.Settings.contract_settings` reads a section with:
    the environment first, then the table (given as the one field's value), as the
    service's own settings."""

    model_config = SettingsConfigDict(
        env_prefix="WSRF_UWS_", env_nested_delimiter="__", extra="ignore"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The environment (without the service's keys, :data:`~.sections.EXECUTION_KEYS`), then the
        table."""
        return (_WithoutExecutionKeys(settings_cls, env_settings), init_settings)


class ExecutionSection(ContractSection):
    """What :meth:`~wsrf_uws.settings.Settings.contract_execution` reads a section with:
    the same sources, the service's keys kept (the contract's own are ignored by the
    model)."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The environment, then the table."""
        return (env_settings, init_settings)


class _WithoutExecutionKeys(PydanticBaseSettingsSource):
    """Another source's values, each section without the keys of :data:`~.sections.EXECUTION_KEYS`
    (``WSRF_UWS_CEA__EXECUTOR`` is the service's, not a setting of the contract)."""

    def __init__(self, settings_cls: type[BaseSettings], source: PydanticBaseSettingsSource):
        super().__init__(settings_cls)
        self._source = source

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        """Unused: :meth:`__call__` gives every value at once."""
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return {
            name: (
                {k: v for k, v in value.items() if k not in EXECUTION_KEYS}
                if isinstance(value, dict)
                else value
            )
            for name, value in self._source().items()
        }
