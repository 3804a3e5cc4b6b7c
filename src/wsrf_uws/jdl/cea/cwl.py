"""Importing a CWL ``CommandLineTool`` (v1.0 to v1.2) as an application description.

A provider may describe an application with the CWL file it already has instead of a
``cea:application``: :func:`read_cwl_tool` reads it with the optional cwl-utils (``pip
install 'wsrf-uws[cwl]'``) and converts it into the same :class:`.Application`, which then
passes the same checks as an XML description. Only what keeps its meaning is converted;
the service still builds the argument vector itself and runs the program in its own
sandbox, so CWL features that need an expression engine, a shell or a container are
refused with a message naming them. The rules:

* the name is the file's stem; ``label`` is the title, ``doc`` the description;
* ``baseCommand``'s first word is the executable (resolved like ``<executable>``), the
  rest and the plain-string ``arguments`` are fixed arguments; ``successCodes`` carry over;
* int and long are ``integer``, float and double ``real``, boolean ``boolean`` (a flag:
  it needs a prefix), string ``text``, an enum ``text`` with its symbols as options, and
  File ``binary`` passed as a file (``FITS``, ``VOTable`` or ``text`` when its ``format``
  is the IANA media type ``application/fits``, ``image/fits``,
  ``application/x-votable+xml`` or ``text/*``, or EDAM's textual format ``format_2330``);
* ``X?`` has minOccurs 0, a ``default`` is the default; ``X[]`` has maxOccurs unbounded
  (and minOccurs 0 with ``default: []``): positional when no prefix is given, else a
  switch repeated for each value, which is what CWL does with a prefix on the array's
  items; a prefix on the input itself (CWL writes it once before all the values) or an
  ``itemSeparator`` is refused;
* a prefix makes a switch; ``separate: false`` is the joined style (``--key=value``) and
  so needs a prefix ending in ``=``. Inputs without a prefix are positional, numbered
  1, 2, ... in CWL's own order: by ``position`` (0 when absent), then by input name.
  The service writes options before positional values, so a prefixed input that CWL
  would place after a positional one is refused (raise the positional one's position);
  so is an input without any ``inputBinding``, which CWL leaves off the command line;
* ``type: stdout``, or a File whose glob is the ``stdout`` file, is the standard output;
  a File whose glob is a plain file name is an output file; nothing else is;
* ``ToolTimeLimit`` is ``wallSeconds``. ``ResourceRequirement`` is ignored: CWL reserves
  resident memory while the service limits address space (RLIMIT_AS), so its figures do
  not carry over, and the service's own maxima apply. ``SoftwareRequirement``,
  ``NetworkAccess``, ``WorkReuse``, ``LoadListingRequirement`` and
  ``InplaceUpdateRequirement`` are ignored too; Docker, InlineJavascript, InitialWorkDir,
  ShellCommand and EnvVar requirements are refused, as requirements and as hints; other
  requirements are refused, other hints ignored.
"""

from __future__ import annotations

import importlib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .application import (
    Application,
    CommandLine,
    InputParameter,
    Limits,
    OutputParameter,
    ParameterType,
    SwitchStyle,
)
from .library import DescriptionError, _check, resolve_executable

#: The names of applications and parameters (``cea:ParameterName`` in the schema).
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
#: Output file names (``cea:FileName``): no folder, no wildcard, no expression.
_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_SWITCH = re.compile(r"\S{1,256}")

_SCALARS = {
    "int": ParameterType.INTEGER,
    "long": ParameterType.INTEGER,
    "float": ParameterType.REAL,
    "double": ParameterType.REAL,
    "boolean": ParameterType.BOOLEAN,
    "string": ParameterType.TEXT,
}
_MEDIA_TYPES_PREFIXES = (
    "https://www.iana.org/assignments/media-types/",
    "http://www.iana.org/assignments/media-types/",
)
_MEDIA_TYPES = {
    "application/fits": ParameterType.FITS,
    "image/fits": ParameterType.FITS,
    "application/x-votable+xml": ParameterType.VOTABLE,
}
_EDAM_TEXT = frozenset(
    {"http://edamontology.org/format_2330", "https://edamontology.org/format_2330"}
)

_REFUSED = {
    "DockerRequirement": "the service runs no containers",
    "InlineJavascriptRequirement": "the service evaluates no expressions",
    "InitialWorkDirRequirement": "the service stages no files in the working folder",
    "ShellCommandRequirement": "the service never runs a shell",
    "EnvVarRequirement": "the service sets the environment (an XML description can add to it)",
}
_IGNORED = frozenset(
    {
        "ResourceRequirement",
        "SoftwareRequirement",
        "NetworkAccess",
        "WorkReuse",
        "LoadListingRequirement",
        "InplaceUpdateRequirement",
    }
)


def read_cwl_tool(path: Path, *, search_path: Sequence[Path] = ()) -> Application:
    """Read a CWL ``CommandLineTool`` file as an application; raises :class:`DescriptionError`.

    Executables are resolved as for XML descriptions (:func:`.resolve_executable`).
    """
    name = path.stem
    if not _NAME.fullmatch(name):
        raise DescriptionError(
            f"{path}: the file name gives the application name {name!r}, which is not a "
            "letter followed by at most 63 letters, digits and underscores"
        )
    try:
        parser = importlib.import_module("cwl_utils.parser")
    except ImportError:
        raise DescriptionError(
            f"{path}: a CWL description needs the optional dependency cwl-utils: "
            "pip install 'wsrf-uws[cwl]'"
        ) from None
    try:
        tool = parser.load_document_by_uri(path)
    except Exception as exc:  # schema-salad, ruamel.yaml and I/O errors alike
        message = " ".join(str(exc).split()) or type(exc).__name__
        raise DescriptionError(f"{path}: not a valid CWL document: {message}") from None
    try:
        application = _application(tool, name, path, search_path)
        _check(application)
    except ValueError as exc:
        raise DescriptionError(f"{path}: {exc}") from None
    return application


@dataclass(frozen=True)
class _Input:
    """A converted input and its place in CWL's order of command-line bindings."""

    key: tuple[int, str]
    parameter: InputParameter

    @property
    def positional(self) -> bool:
        return self.parameter.command_line.switch is None


def _application(tool: Any, name: str, path: Path, search_path: Sequence[Path]) -> Application:
    kind = getattr(tool, "class_", None) or type(tool).__name__
    if kind != "CommandLineTool":
        raise ValueError(f"the document is a {kind}, not a CommandLineTool")
    limits = _requirements(tool)
    if tool.stdin is not None:
        raise ValueError("stdin is not supported: applications get no standard input")
    base = tool.baseCommand
    command = [base] if isinstance(base, str) else list(base or ())
    if not command:
        raise ValueError("baseCommand is missing: it must name the executable")
    for word in command:
        _literal(word, "baseCommand")
    arguments = list(command[1:])
    for argument in tool.arguments or ():
        if not isinstance(argument, str):
            raise ValueError(
                "arguments: only plain strings are supported, not a binding "
                "(valueFrom, prefix, position)"
            )
        arguments.append(_literal(argument, "arguments"))
    codes = tool.successCodes
    return Application(
        name=name,
        title=" ".join((tool.label or "").split()) or name,
        description=_doc(tool.doc),
        executable=resolve_executable(command[0], search_path),
        arguments=tuple(arguments),
        limits=limits,
        success_codes=frozenset(int(c) for c in codes) if codes else frozenset({0}),
        inputs=_inputs(tool.inputs or ()),
        outputs=tuple(_output(item, tool) for item in tool.outputs or ()),
        source=str(path),
    )


def _requirements(tool: Any) -> Limits:
    wall_seconds = None
    for kind, items in (("requirement", tool.requirements), ("hint", tool.hints)):
        for item in items or ():
            if isinstance(item, dict):
                name = str(item.get("class", ""))
            else:
                name = str(getattr(item, "class_", type(item).__name__))
            if name in _REFUSED:
                raise ValueError(f"the {kind} {name} is not supported: {_REFUSED[name]}")
            if name == "ToolTimeLimit":
                limit = getattr(item, "timelimit", None)
                if not isinstance(limit, int):
                    raise ValueError("ToolTimeLimit: only a number of seconds is supported")
                wall_seconds = limit or None  # 0: no limit
            elif kind == "requirement" and name not in _IGNORED:
                raise ValueError(f"the requirement {name} is not supported")
    return Limits(wall_seconds=wall_seconds)


def _inputs(items: Sequence[Any]) -> tuple[InputParameter, ...]:
    converted = sorted((_input(item) for item in items), key=lambda e: e.key)
    switches = [e for e in converted if not e.positional]
    positional = [e for e in converted if e.positional]
    if switches and positional and switches[-1].key > positional[0].key:
        late, early = switches[-1].parameter, positional[0].parameter
        raise ValueError(
            f"input {late.name!r} (prefix {late.command_line.switch}) comes after the "
            f"positional input {early.name!r} in CWL's order (position, then name), but "
            f"the service writes every option before the positional values: give "
            f"{early.name!r} a higher position than {late.name!r}"
        )
    numbered = [
        replace(e.parameter, command_line=CommandLine(position=number))
        for number, e in enumerate(positional, start=1)
    ]
    return (*(e.parameter for e in switches), *numbered)


def _input(item: Any) -> _Input:
    name = _name(item.id, "input")
    what = f"input {name!r}"
    binding = item.inputBinding
    optional, kind = _optional(item.type_, what)
    array = getattr(kind, "type_", None) == "array"
    items_binding = kind.inputBinding if array else None
    if binding is None and items_binding is None:
        raise ValueError(
            f"{what} has no inputBinding, so it is not on the command line: the service "
            "passes every input on the command line"
        )
    if getattr(item, "secondaryFiles", None):
        raise ValueError(f"{what}: secondaryFiles are not supported")
    for each in (binding, items_binding):
        if each is None:
            continue
        if each.valueFrom is not None:
            raise ValueError(f"{what}: valueFrom is not supported (it is a CWL expression)")
        if each.itemSeparator is not None:
            raise ValueError(
                f"{what}: itemSeparator is not supported; the service passes each value as "
                "an argument of its own"
            )
    position = 0 if binding is None or binding.position is None else binding.position
    if not isinstance(position, int):
        raise ValueError(f"{what}: a position given by an expression is not supported")
    if position < 0:
        raise ValueError(f"{what}: a negative position is not supported")
    value_type = kind.items if array else kind
    if array:
        if binding is not None and binding.prefix is not None:
            raise ValueError(
                f"{what}: CWL writes the prefix of an array input once, before all its "
                "values; the service repeats a switch before each value: move the prefix "
                "to the items (type: {type: array, items: ..., inputBinding: {prefix: ...}})"
            )
        if getattr(value_type, "type_", None) == "array":
            raise ValueError(f"{what}: arrays of arrays are not supported")
    prefix_binding = items_binding if array else binding
    parameter_type, options = _value_type(value_type, item.format, item.id, what)
    default = item.default
    if array and isinstance(default, list) and not default:
        default, optional = None, True  # an empty array: no value at all
    prefix = None if prefix_binding is None else prefix_binding.prefix
    if prefix is None:
        if parameter_type is ParameterType.BOOLEAN:
            raise ValueError(f"{what}: a boolean input needs a prefix (CWL writes nothing else)")
        command_line = CommandLine(position=position)
    else:
        command_line = _switch(prefix, prefix_binding, parameter_type, what)
    parameter = InputParameter(
        name=name,
        type=parameter_type,
        title=" ".join((item.label or "").split()),
        description=_doc(item.doc),
        min_occurs=0 if optional else 1,
        max_occurs=None if array else 1,
        command_line=command_line,
        default=_default(default, what),
        options=options,
        file_ref=value_type == "File",
    )
    return _Input((position, name), parameter)


def _switch(prefix: Any, binding: Any, kind: ParameterType, what: str) -> CommandLine:
    if not isinstance(prefix, str) or not _SWITCH.fullmatch(prefix):
        raise ValueError(f"{what}: the prefix {prefix!r} is not one word")
    if kind is ParameterType.BOOLEAN:
        return CommandLine(switch=prefix, style=SwitchStyle.FLAG)
    if binding.separate is not False:
        return CommandLine(switch=prefix)
    if prefix.endswith("=") and len(prefix) > 1:
        return CommandLine(switch=prefix[:-1], style=SwitchStyle.JOINED)
    raise ValueError(
        f"{what}: separate: false joins the prefix {prefix!r} and the value with nothing "
        "between them; the service can only join them with '=' (a prefix ending in '=')"
    )


def _value_type(
    kind: Any, file_format: Any, identifier: str, what: str
) -> tuple[ParameterType, tuple[str, ...]]:
    if isinstance(kind, str) and kind in _SCALARS:
        return _SCALARS[kind], ()
    if kind == "File":
        return _file_type(file_format, ParameterType.BINARY), ()
    if getattr(kind, "type_", None) == "enum":
        return ParameterType.TEXT, tuple(_symbol(s, kind.name, identifier) for s in kind.symbols)
    described = kind if isinstance(kind, str) else getattr(kind, "type_", type(kind).__name__)
    raise ValueError(f"{what}: the type {_shortname(str(described))} is not supported")


def _file_type(file_format: Any, otherwise: ParameterType) -> ParameterType:
    """The type a CWL ``format`` IRI (or list of them) stands for."""
    formats = file_format if isinstance(file_format, list) else [file_format]
    found = set()
    for each in formats:
        if not isinstance(each, str):
            return otherwise
        kind = otherwise
        for prefix in _MEDIA_TYPES_PREFIXES:
            if each.startswith(prefix):
                media_type = each.removeprefix(prefix)
                if media_type in _MEDIA_TYPES:
                    kind = _MEDIA_TYPES[media_type]
                elif media_type.startswith("text/"):
                    kind = ParameterType.TEXT
        if each in _EDAM_TEXT:
            kind = ParameterType.TEXT
        found.add(kind)
    return found.pop() if len(found) == 1 else otherwise


def _default(value: Any, what: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{what}: its default is not a finite number")
        return repr(float(value))
    if isinstance(value, str):
        return str(value)
    if isinstance(value, dict):
        raise ValueError(f"{what}: a File or record default is not supported")
    raise ValueError(f"{what}: a default with several values is not supported")


def _output(item: Any, tool: Any) -> OutputParameter:
    name = _name(item.id, "output")
    what = f"output {name!r}"
    optional, kind = _optional(item.type_, what)
    if getattr(item, "secondaryFiles", None):
        raise ValueError(f"{what}: secondaryFiles are not supported")
    common: dict[str, Any] = {
        "name": name,
        "title": " ".join((item.label or "").split()),
        "description": _doc(item.doc),
        "min_occurs": 0 if optional else 1,
    }
    if kind == "stdout":
        return OutputParameter(
            type=_file_type(item.format, ParameterType.TEXT), stdout=True, **common
        )
    if kind == "stderr":
        raise ValueError(
            f"{what}: standard error cannot be an output; every job keeps it as its "
            "result stderr.txt"
        )
    if kind != "File":
        described = kind if isinstance(kind, str) else getattr(kind, "type_", kind)
        raise ValueError(f"{what}: the type {described} is not supported (File or stdout only)")
    binding = item.outputBinding
    glob = None if binding is None else binding.glob
    if glob is None:
        raise ValueError(f"{what}: a File output needs an outputBinding with a glob")
    if binding.outputEval is not None:
        raise ValueError(f"{what}: outputEval is not supported (it is a CWL expression)")
    if not isinstance(glob, str) or not _FILE_NAME.fullmatch(glob):
        raise ValueError(
            f"{what}: the glob {glob!r} is not a plain file name (no wildcard, expression, "
            "folder or list)"
        )
    if glob == tool.stdout:
        return OutputParameter(
            type=_file_type(item.format, ParameterType.TEXT), stdout=True, **common
        )
    if glob == tool.stderr:
        raise ValueError(
            f"{what}: standard error cannot be an output; every job keeps it as its "
            "result stderr.txt"
        )
    return OutputParameter(type=_file_type(item.format, ParameterType.BINARY), file=glob, **common)


def _optional(kind: Any, what: str) -> tuple[bool, Any]:
    """Whether a CWL type admits null, and the type without null."""
    if not isinstance(kind, list):
        return False, kind
    others = [k for k in kind if k != "null"]
    if len(others) != 1:
        raise ValueError(f"{what}: a union of several types is not supported")
    return len(others) < len(kind), others[0]


def _name(identifier: str, what: str) -> str:
    name = _shortname(identifier)
    if not _NAME.fullmatch(name):
        raise ValueError(
            f"the {what} name {name!r} is not a letter followed by at most 63 letters, "
            "digits and underscores"
        )
    return name


def _shortname(identifier: str) -> str:
    """``file:///x/tool.cwl#input/symbol`` as ``symbol``."""
    _, _, fragment = identifier.rpartition("#")
    return fragment.rsplit("/", 1)[-1]


def _symbol(symbol: str, enum_name: str | None, identifier: str) -> str:
    """An enum symbol as written: cwl-utils prefixes it with the enum's name, or with the
    input's identifier when the enum has none."""
    for owner in (enum_name, identifier):
        if owner and not owner.startswith("_:") and symbol.startswith(f"{owner}/"):
            return symbol.removeprefix(f"{owner}/")
    return _shortname(symbol)


def _literal(text: str, what: str) -> str:
    if "$(" in text or "${" in text:
        raise ValueError(
            f"{what}: {text!r} is a CWL expression; the service evaluates no expressions"
        )
    return text


def _doc(doc: Any) -> str:
    if doc is None:
        return ""
    if isinstance(doc, list):
        return "\n".join(str(d) for d in doc).strip()
    return str(doc).strip()
