"""A provider's view of the application library, as text (``wsrf-uws applications``)."""

from __future__ import annotations

from .application import Application, InputParameter, Parameter
from .library import Library


def describe_library(library: Library) -> str:
    """Every application with its parameters, then the descriptions that were skipped."""
    blocks = [_describe(library.applications[name]) for name in library.names()]
    if not blocks:
        blocks.append("no applications")
    if library.problems:
        blocks.append("skipped:\n" + "\n".join(f"  {problem}" for problem in library.problems))
    return "\n\n".join(blocks)


def _describe(application: Application) -> str:
    lines = [f"{application.name}: {application.title}", f"  runs {application.executable}"]
    lines += [f"  in   {_parameter(p)}" for p in application.inputs]
    lines += [f"  out  {_parameter(p)}" for p in application.outputs]
    return "\n".join(lines)


def _parameter(parameter: Parameter) -> str:
    most = "n" if parameter.max_occurs is None else str(parameter.max_occurs)
    text = f"{parameter.name} ({parameter.type}, {parameter.min_occurs}..{most})"
    if isinstance(parameter, InputParameter) and parameter.default is not None:
        text += f" default {parameter.default!r}"
    if parameter.unit:
        text += f" [{parameter.unit}]"
    if parameter.title:
        text += f": {parameter.title}"
    return text
