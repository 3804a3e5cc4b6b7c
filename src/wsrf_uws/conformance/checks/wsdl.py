"""The published contract: ``?wsdl`` and its 2004/08 variant, loaded from the service and linted.

Both WSDLs are loaded with every document they import, fetched only from the service's
own origin (a client must need no internet, and the kit reaches no other host). Each
lint rule (:data:`wsrf_uws.conformance.lint.RULES`) becomes one check line per WSDL:
PASS without findings, FAIL listing them. ``UsingAddressing`` and the Actions are lint
rules too (``WU-ADDRESSING``), reported there and not again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from lxml import etree

from ..documents import DocumentSet, load
from ..lint import RULES, Finding, Rule, lint
from ..names import WSA, WSA_2004, WSAM, WSAW, WSDL, contract_namespace, q
from ..outcomes import CheckFailed, CheckSkipped, require
from ..wire import WireError, http_request, parse_xml
from .base import Check, Context, Group, Recorder
from .jobs import served_by

#: How many findings a check line names (the JUnit report lists them all).
_SHOWN_FINDINGS = 3

_XSD = "http://www.w3.org/2001/XMLSchema"
_QNAME_ATTRIBUTES = ("ref", "type", "base", "element", "message", "binding", "itemType")


@dataclass(frozen=True)
class Variant:
    """One of the two WSDLs: its query, check-id prefix and WS-Addressing version."""

    prefix: str
    query: str
    namespace: str
    label: str
    #: Whether an endpoint may leave it out (SKIP instead of FAIL).
    optional: bool

    def check(self, name: str, clause: str, summary: str) -> Check:
        return Check(f"{self.prefix}.{name}", clause, summary)

    def served(self) -> Check:
        return self.check(
            "served",
            "DESIGN §2 (its WSDL: GET {endpoint}?wsdl" + self.query[len("?wsdl") :] + ")",
            f"GET {self.query} answers a WSDL 1.1 document in the contract's namespace",
        )

    def imports(self) -> Check:
        return self.check(
            "imports-served",
            "DESIGN §2 (every schema it imports is served too, so a client needs no internet)",
            "every document the WSDL imports, transitively, is served by the service itself",
        )

    def addressing(self) -> Check:
        return self.check(
            "addressing-version",
            "DESIGN §2 (each WSDL declares exactly one WS-Addressing version: "
            f"{self.query} is the {self.label} contract)",
            f"the WSDL and its schemas use WS-Addressing {self.label} and not the other version",
        )

    def rule(self, rule: Rule) -> Check:
        return Check(f"{self.prefix}.lint.{rule.id}", rule.clause, rule.summary)

    def checks(self) -> tuple[Check, ...]:
        return (
            self.served(),
            self.imports(),
            self.addressing(),
            *(self.rule(rule) for rule in RULES),
        )


W3C = Variant("wsdl", "?wsdl", WSA, "1.0", optional=False)
MEMBER_SUBMISSION = Variant(
    "wsdl-2004", "?wsdl&addressing=2004-08", WSA_2004, "2004/08", optional=True
)


def wsdl_actions(definitions: etree._Element) -> dict[str, str]:
    """The input action of each portType operation a WSDL declares (``wsam``/``wsaw:Action``)."""
    actions: dict[str, str] = {}
    for operation in definitions.iter(q(WSDL, "operation")):
        parent = operation.getparent()
        if parent is None or parent.tag != q(WSDL, "portType"):
            continue
        given = operation.find(q(WSDL, "input"))
        if given is None:
            continue
        action = given.get(q(WSAM, "Action")) or given.get(q(WSAW, "Action"))
        if action and operation.get("name"):
            actions[str(operation.get("name"))] = action
    return actions


def wsdl_fault_actions(definitions: etree._Element) -> set[str]:
    """The actions a WSDL gives its portType faults (``wsam``/``wsaw:Action`` on wsdl:fault)."""
    actions: set[str] = set()
    for fault in definitions.iter(q(WSDL, "fault")):
        parent = fault.getparent()
        grandparent = parent.getparent() if parent is not None else None
        if grandparent is None or grandparent.tag != q(WSDL, "portType"):
            continue
        action = fault.get(q(WSAM, "Action")) or fault.get(q(WSAW, "Action"))
        if action:
            actions.add(action)
    return actions


def addressing_namespaces(documents: DocumentSet) -> set[str]:
    """The WS-Addressing namespaces the documents use: imports, QName references, elements."""
    used: set[str] = set()
    for document in documents.documents.values():
        for element in document.root.iter(etree.Element):
            used.add(etree.QName(element).namespace or "")
            if element.tag == f"{{{_XSD}}}import":
                used.add(element.get("namespace", ""))
            for attribute in _QNAME_ATTRIBUTES:
                value = element.get(attribute)
                if value and ":" in value:
                    used.add(element.nsmap.get(value.partition(":")[0]) or "")
    return used & {WSA, WSA_2004}


def _describe(findings: list[Finding]) -> tuple[str, str]:
    """A one-line reason naming the first findings, and every finding for the details."""

    def where(finding: Finding) -> str:
        name = finding.document.rpartition("/")[2] or finding.document
        return f"{name}:{finding.line}" if finding.line else name

    shown = "; ".join(f"{where(f)}: {f.message}" for f in findings[:_SHOWN_FINDINGS])
    more = len(findings) - _SHOWN_FINDINGS
    reason = f"{len(findings)} finding(s): {shown}" + (f"; and {more} more" if more > 0 else "")
    return reason, "\n".join(str(f) for f in findings)


@dataclass
class _Wsdl:
    context: Context
    variant: Variant
    documents: DocumentSet | None = None
    findings: dict[str, list[Finding]] = field(default_factory=dict)
    #: Why the WSDL is not there to judge (skip, or fail, the checks that need it).
    missing: str = ""

    @property
    def url(self) -> str:
        return self.context.options.url + self.variant.query

    def fetch(self, url: str) -> bytes:
        """Fetch for the loader: only from the service's origin, only a 200 answer."""
        base = self.context.options.base_url
        if not served_by(url, base):
            raise WireError(f"{url} is not on the service ({base}); the kit reaches no other host")
        reply = http_request(
            url,
            credentials=self.context.options.user,
            timeout=self.context.options.request_timeout,
        )
        if reply.status != 200:
            raise WireError(f"HTTP {reply.status}")
        return reply.body

    def served(self) -> str:
        try:
            reply = http_request(
                self.url,
                credentials=self.context.options.user,
                timeout=self.context.options.request_timeout,
            )
        except WireError as error:
            self.missing = str(error)
            raise
        if reply.status != 200:
            self.missing = f"GET {self.variant.query} answered HTTP {reply.status}"
            if self.variant.optional and 400 <= reply.status < 500:
                raise CheckSkipped(f"the endpoint serves no {self.variant.query} ({reply.status})")
            raise CheckFailed(self.missing)
        try:
            root = parse_xml(reply.body, what=f"the {self.variant.query} document")
        except WireError as error:
            self.missing = str(error)
            raise
        if root.tag != f"{{{WSDL}}}definitions":
            self.missing = f"{self.variant.query} is {root.tag}, not a WSDL 1.1 definitions"
            raise CheckFailed(self.missing)
        self.documents = load(self.url, fetch=self.fetch)
        for finding in lint(self.documents):
            self.findings.setdefault(finding.rule, []).append(finding)
        namespace = root.get("targetNamespace")
        expected = contract_namespace(self.context.options.contract)
        require(
            namespace == expected,
            f"the WSDL's targetNamespace is {namespace!r}, not {expected!r}",
        )
        return f"{len(self.documents.documents)} document(s) loaded"

    def loaded(self) -> DocumentSet:
        if self.documents is None:
            raise CheckSkipped(f"no WSDL to judge: {self.missing or 'it was not loaded'}")
        return self.documents

    def imports(self) -> str:
        documents = self.loaded()
        base = self.context.options.base_url
        foreign = sorted(
            {r.target for r in documents.references if r.target and not served_by(r.target, base)}
        )
        require(not foreign, f"imports documents from elsewhere: {', '.join(foreign)}")
        unfetched = [p.message for p in documents.problems]
        require(not unfetched, "; ".join(unfetched[:_SHOWN_FINDINGS]))
        return f"{len(documents.documents)} document(s), all from {base}"

    def addressing(self) -> str:
        used = addressing_namespaces(self.loaded())
        wanted = self.variant.namespace
        require(wanted in used, f"the documents never use WS-Addressing {self.variant.label}")
        others = used - {wanted}
        require(not others, f"the documents also use {', '.join(sorted(others))}")
        return f"WS-Addressing {self.variant.label} only"

    def rule(self, rule: Rule) -> Callable[[], str]:
        def judge() -> str:
            self.loaded()
            findings = self.findings.get(rule.id, [])
            if findings:
                reason, details = _describe(findings)
                raise CheckFailed(reason, details=details)
            return "no findings"

        return judge


def _run(variant: Variant, context: Context, recorder: Recorder) -> _Wsdl:
    checks = _Wsdl(context=context, variant=variant)
    recorder.run(variant.served(), checks.served)
    recorder.run(variant.imports(), checks.imports)
    recorder.run(variant.addressing(), checks.addressing)
    for rule in RULES:
        recorder.run(variant.rule(rule), checks.rule(rule))
    return checks


def run(context: Context, recorder: Recorder) -> None:
    """Run the checks of ``?wsdl``; note the Actions it declares for the other groups."""
    checks = _run(W3C, context, recorder)
    if checks.documents is not None:
        context.fault_actions = set()
        for document in checks.documents.documents.values():
            if document.is_wsdl:
                context.actions.update(wsdl_actions(document.root))
                context.fault_actions |= wsdl_fault_actions(document.root)


def run_2004(context: Context, recorder: Recorder) -> None:
    """Run the checks of ``?wsdl&addressing=2004-08``."""
    _run(MEMBER_SUBMISSION, context, recorder)


GROUP = Group("wsdl", W3C.checks(), run)
GROUP_2004 = Group("wsdl-2004", MEMBER_SUBMISSION.checks(), run_2004)
