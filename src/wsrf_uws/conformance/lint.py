"""The WSDL lint: WS-I Basic Profile 1.1 and the project's rules, on any published WSDL.

``lint_url(url)`` loads a WSDL with every document it imports (from any server, or from
files) and returns one :class:`Finding` per place a rule is broken; no finding means the
description conforms. The rules are in :data:`RULES`, in report order: the documents
and their imports (``lint_documents``), WS-I Basic Profile 1.1 on references and schemas
(``lint_bp``) and on messages and bindings (``lint_bindings``), then the rules wsrf-uws
DESIGN §2 adds for code generators (``lint_project``). ``lint_model`` holds what they
share: :class:`Rule`, :class:`Finding` and the index of the description they read. The
conformance kit prints one PASS/FAIL line per rule from the same list.

From a shell::

    python -m wsrf_uws.conformance.lint http://localhost:8080/uws/steps?wsdl
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from . import lint_bindings, lint_bp, lint_documents, lint_project
from .documents import DocumentSet, Fetch, load
from .lint_model import Finding, Model, Rule

__all__ = ["RULES", "DocumentSet", "Finding", "Rule", "lint", "lint_url", "load", "main"]

_CHECKS = (
    *lint_documents.CHECKS,
    *lint_bp.CHECKS,
    *lint_bindings.CHECKS,
    *lint_project.CHECKS,
)

#: Every rule, in report order.
RULES: tuple[Rule, ...] = tuple(rule for rule, _ in _CHECKS)


def lint(documents: DocumentSet) -> list[Finding]:
    """Every finding of every rule on a loaded description, in report order.

    Findings are ordered by rule (as in :data:`RULES`), then by document (in load
    order), then by line.
    """
    model = Model(documents)
    findings: list[Finding] = []
    for _, check in _CHECKS:
        found = list(check(model))
        found.sort(key=lambda f: (model.order.get(f.document, -1), f.line or 0))
        findings.extend(found)
    return findings


def lint_url(url: str, *, fetch: Fetch | None = None) -> list[Finding]:
    """Load the WSDL at ``url`` (a URL or a local path) and lint it.

    ``fetch`` replaces the default HTTP/file fetch (see :func:`.documents.load`).
    """
    return lint(load(url, fetch=fetch))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m wsrf_uws.conformance.lint URL...``: print findings; exit 1 if any."""
    urls = list(sys.argv[1:] if argv is None else argv)
    if not urls or any(u in ("-h", "--help") for u in urls):
        print("usage: python -m wsrf_uws.conformance.lint WSDL-URL-OR-PATH...", file=sys.stderr)
        return 2
    failed = False
    for url in urls:
        for finding in lint_url(url):
            failed = True
            print(finding)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
