"""The documentation holds together: the README stays short and its test command is the
one CI runs, every relative link of README.md and docs/ names a file (and a heading) that
exists, and every setting has the description the generated configuration reference
shows. The docs themselves are built with ``sphinx-build -W`` in ``.ci/run``."""

from __future__ import annotations

import re
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from pydantic import BaseModel

from wsrf_uws.settings import ContractExecution, Settings

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = [README, *sorted(DOCS.rglob("*.md"))]
PAGES = [page for page in PAGES if "_build" not in page.parts]

#: ``[text](target)`` and ``[text](target "title")``; images too.
LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^(```|~~~)")


def prose(text: str, *, inline_code: bool = False) -> str:
    """``text`` without its fenced code blocks, and without its inline code unless
    ``inline_code``: links are not links there."""
    kept: list[str] = []
    fenced = False
    for line in text.splitlines():
        if FENCE.match(line.lstrip()):
            fenced = not fenced
            continue
        if not fenced:
            kept.append(line if inline_code else re.sub(r"`[^`]*`", "", line))
    return "\n".join(kept)


def relative_links(page: Path) -> list[str]:
    """The links of ``page`` that name a file of the repository (not a URL)."""
    return [
        target
        for target in LINK.findall(prose(page.read_text(encoding="utf-8")))
        if not re.match(r"^[a-z][a-z0-9+.-]*:", target) and not target.startswith("#")
    ]


def anchors(page: Path) -> set[str]:
    """The anchors a forge (and MyST's ``heading_anchors``) gives the headings of ``page``."""
    found: set[str] = set()
    for line in prose(page.read_text(encoding="utf-8"), inline_code=True).splitlines():
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if heading:
            title = heading.group(1).replace("`", "").lower()
            found.add(re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", title)))
    return found


def test_the_link_check_finds_links_and_anchors() -> None:
    page = DOCS / "tutorial.md"
    assert "cea.md" in relative_links(page)
    assert "7-users" in anchors(page)
    assert "the-contract-cea" in anchors(DOCS / "configuration.md")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_names_an_existing_file(page: Path) -> None:
    broken = []
    for target in relative_links(page):
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{target}: no heading with that anchor")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


def test_the_readme_stays_short() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 250, f"README.md has {len(lines)} lines: move details to docs/"


def test_the_readme_test_command_is_the_one_ci_runs() -> None:
    readme = README.read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    commands = [line for line in readme.splitlines() if ".venv/bin/python -m pytest" in line]
    assert len(commands) == 1
    assert commands[0].strip() in ci.splitlines()
    assert "bash tests/interop/setup.sh" in readme
    assert "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/wsrf-uws serve" in (
        readme
    )


def test_the_readme_links_every_contract_page() -> None:
    links = set(relative_links(README))
    shipped = [ep.name for ep in entry_points(group="wsrf_uws.contracts")]
    assert shipped
    for name in shipped:
        if entry_points(group="wsrf_uws.contracts", name=name)[name].value.startswith(
            "wsrf_uws.jdl."
        ):
            assert f"docs/{name}.md" in links, f"README.md does not link docs/{name}.md"


def models_of(model: type[BaseModel]) -> list[type[BaseModel]]:
    """``model`` and every model of its fields, also inside lists and dictionaries."""
    found = [model]
    for field in model.model_fields.values():
        for candidate in (field.annotation, *getattr(field.annotation, "__args__", ())):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                found += [m for m in models_of(candidate) if m not in found]
    return found


def shipped_settings_models() -> list[type[BaseModel]]:
    models = [*models_of(Settings), *models_of(ContractExecution)]
    for point in entry_points(group="wsrf_uws.contracts"):
        model = getattr(point.load(), "settings_model", None)
        if point.value.startswith("wsrf_uws.jdl.") and model is not None:
            models += models_of(model)
    return models


@pytest.mark.parametrize("model", shipped_settings_models(), ids=lambda m: m.__name__)
def test_every_setting_has_a_description(model: type[BaseModel]) -> None:
    # docs/_ext/settings_reference.py makes the configuration reference of these.
    missing = [name for name, field in model.model_fields.items() if not field.description]
    assert not missing, f"{model.__name__}: no description for {missing}"
