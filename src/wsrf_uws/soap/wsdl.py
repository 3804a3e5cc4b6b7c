"""The WSDL 1.1 document of a contract.

Every contract offers the same operations (the pattern's and WS-RF's) plus its extras,
so its WSDL follows one shape, built here from the contract's names: the shared
messages and faults (and those of the project's extension operations ``listJobs`` and
``abortJob``, in the core namespace) are imported from ``wsdl/wsrf-uws-common.wsdl``;
the contract's schema declares its JDL, state, resource-property document and operation
wrappers. The result is SOAP 1.1 document/literal and WS-I Basic Profile 1.1 conformant, with
``wsaw:UsingAddressing`` and a ``wsam:Action`` on every input, output and fault. It
names one WS-Addressing version: for the 2004/08 member submission, the binding says
``UsingAddressing`` and each message its ``Action`` in that version's namespace (how
JAX-WS and Axis2 recognise member-submission addressing).
``wsdl/{contract}.wsdl`` in the repository is this document for the shipped contracts
(``python -m wsrf_uws.soap.documents CONTRACT`` prints it); a test keeps the two
identical. A running service serves it at ``/uws/{contract}?wsdl``.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from ..core.contract import Contract
from ..published import AddressingVersion
from ..wire.namespaces import (
    ACTIONS,
    CORE,
    RP,
    WSA_2004,
    WSAM,
    WSAW,
    WSDL,
    WSDL_SOAP,
    XSD,
    contract_action,
    q,
)
from .faults import DECLARED_FAULT_ACTION
from .properties import PROPERTIES_DOCUMENT

COMMON_WSDL = "wsrf-uws-common.wsdl"

_RESOURCE_FAULTS = ("ResourceUnknownFault", "NotAuthenticatedFault")


@dataclass(frozen=True)
class _Operation:
    name: str
    input_message: str  # qualified "prefix:name"
    output_message: str
    input_action: str
    output_action: str
    faults: tuple[str, ...]


def _operations(contract: Contract) -> list[_Operation]:
    ns = contract.namespace

    def local(name: str, faults: tuple[str, ...]) -> _Operation:
        return _Operation(
            name,
            f"tns:{name}Request",
            f"tns:{name}Response",
            contract_action(ns, name),
            contract_action(ns, name, response=True),
            faults,
        )

    def core(name: str, faults: tuple[str, ...]) -> _Operation:
        # The project's extension operations: messages in the shared WSDL, wrappers in
        # the core schema, actions in the core namespace.
        return _Operation(
            name,
            f"uwscore:{name}Request",
            f"uwscore:{name}Response",
            contract_action(CORE, name),
            contract_action(CORE, name, response=True),
            faults,
        )

    def wsrf(name: str, faults: tuple[str, ...]) -> _Operation:
        request, response = ACTIONS[name]
        return _Operation(
            name, f"uwscore:{name}Request", f"uwscore:{name}Response", request, response, faults
        )

    creation = (
        "InvalidJobDescriptionFault",
        "TerminationTimeChangeRejectedFault",
        "UnableToSetTerminationTimeFault",
        "NotAuthenticatedFault",
        "QuotaExceededFault",
    )
    properties = (*_RESOURCE_FAULTS, "InvalidResourcePropertyQNameFault")
    operations = [
        local("createJob", creation),
        local("startJob", (*_RESOURCE_FAULTS, "InvalidPhaseFault", "QuotaExceededFault")),
        local("resumeJob", (*_RESOURCE_FAULTS, "InvalidPhaseFault")),
    ]
    operations += [
        local(name, (*_RESOURCE_FAULTS, "InvalidPhaseFault"))
        for name in sorted(contract.extra_operations())
    ]
    operations += [
        core("abortJob", (*_RESOURCE_FAULTS, "InvalidPhaseFault")),
        core("listJobs", ("NotAuthenticatedFault",)),
    ]
    operations += [
        wsrf("GetResourcePropertyDocument", _RESOURCE_FAULTS),
        wsrf("GetResourceProperty", properties),
        wsrf("GetMultipleResourceProperties", properties),
        wsrf(
            "SetTerminationTime",
            (
                *_RESOURCE_FAULTS,
                "UnableToSetTerminationTimeFault",
                "TerminationTimeChangeRejectedFault",
            ),
        ),
        wsrf("Destroy", (*_RESOURCE_FAULTS, "ResourceNotDestroyedFault")),
    ]
    return operations


def service_name(contract: Contract) -> str:
    """``steps`` → ``Steps``: the stem of the portType, binding and service names."""
    return contract.name[:1].upper() + contract.name[1:]


def render_wsdl(
    contract: Contract,
    *,
    address: str,
    locations: dict[str, str],
    common_wsdl: str,
    addressing: AddressingVersion = AddressingVersion.W3C,
) -> etree._Element:
    """The WSDL of ``contract`` served at ``address``, for clients of ``addressing``.

    ``locations`` maps each schema namespace (the contract's included) to the URL or
    relative path clients load it from; ``common_wsdl`` locates the shared WSDL.
    """
    ns = contract.namespace
    stem = service_name(contract)
    nsmap = {"wsdl": WSDL, "soap": WSDL_SOAP, "xs": XSD}
    if addressing is AddressingVersion.W3C:
        nsmap |= {"wsam": WSAM, "wsaw": WSAW}
        using_addressing, action_attribute = q(WSAW, "UsingAddressing"), q(WSAM, "Action")
    else:
        nsmap |= {"wsa": WSA_2004}
        using_addressing, action_attribute = q(WSA_2004, "UsingAddressing"), q(WSA_2004, "Action")
    nsmap |= {"wsrfrp": RP, "uwscore": CORE, "tns": ns}
    root = etree.Element(q(WSDL, "definitions"), nsmap=nsmap, targetNamespace=ns, name=stem)
    root.append(
        etree.Comment(
            f" wsrf-uws contract {contract.name!r} ({ns}): the UWS pattern over WS-RF 1.2. "
        )
    )
    etree.SubElement(root, q(WSDL, "import"), namespace=CORE, location=common_wsdl)

    types = etree.SubElement(root, q(WSDL, "types"))
    # Imports only, so no targetNamespace (WS-I Basic Profile 1.1, R2105).
    imports = etree.SubElement(types, q(XSD, "schema"))
    for namespace, location in locations.items():
        etree.SubElement(imports, q(XSD, "import"), namespace=namespace, schemaLocation=location)

    operations = _operations(contract)
    for operation in operations:
        if operation.input_message.startswith("tns:"):
            for suffix, wrapper in (("Request", ""), ("Response", "Response")):
                message = etree.SubElement(
                    root, q(WSDL, "message"), name=f"{operation.name}{suffix}"
                )
                etree.SubElement(
                    message,
                    q(WSDL, "part"),
                    name="parameters",
                    element=f"tns:{operation.name}{wrapper}",
                )

    port_type = etree.SubElement(root, q(WSDL, "portType"), name=f"{stem}PortType")
    port_type.set(q(RP, "ResourceProperties"), f"tns:{PROPERTIES_DOCUMENT}")
    for operation in operations:
        element = etree.SubElement(port_type, q(WSDL, "operation"), name=operation.name)
        io = (
            ("input", operation.input_message, operation.input_action),
            ("output", operation.output_message, operation.output_action),
        )
        for kind, message_name, action in io:
            etree.SubElement(element, q(WSDL, kind), message=message_name).set(
                action_attribute, action
            )
        for fault in operation.faults:
            etree.SubElement(element, q(WSDL, "fault"), name=fault, message=f"uwscore:{fault}").set(
                action_attribute, DECLARED_FAULT_ACTION
            )

    binding = etree.SubElement(
        root, q(WSDL, "binding"), name=f"{stem}SoapBinding", type=f"tns:{stem}PortType"
    )
    etree.SubElement(
        binding,
        q(WSDL_SOAP, "binding"),
        style="document",
        transport="http://schemas.xmlsoap.org/soap/http",
    )
    etree.SubElement(binding, using_addressing).set(q(WSDL, "required"), "false")
    for operation in operations:
        bound = etree.SubElement(binding, q(WSDL, "operation"), name=operation.name)
        etree.SubElement(bound, q(WSDL_SOAP, "operation"), soapAction=operation.input_action)
        for kind in ("input", "output"):
            etree.SubElement(
                etree.SubElement(bound, q(WSDL, kind)), q(WSDL_SOAP, "body"), use="literal"
            )
        for fault in operation.faults:
            etree.SubElement(
                etree.SubElement(bound, q(WSDL, "fault"), name=fault),
                q(WSDL_SOAP, "fault"),
                name=fault,
                use="literal",
            )

    service = etree.SubElement(root, q(WSDL, "service"), name=f"{stem}Service")
    port = etree.SubElement(
        service, q(WSDL, "port"), name=f"{stem}Port", binding=f"tns:{stem}SoapBinding"
    )
    etree.SubElement(port, q(WSDL_SOAP, "address"), location=address)
    return root
