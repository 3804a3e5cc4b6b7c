/*
  resourceid.h: the one declaration the generated code lacks (gSOAP interface file for soapcpp2).

  wsrf-uws identifies a job by the reference parameter of its EPR, which every later request
  must carry as a SOAP header block:

      <uwscore:ResourceId wsa:IsReferenceParameter="true">...</uwscore:ResourceId>

  Reference parameters are opaque to a WSDL (WS-Addressing 1.0 §2.1), so the WSDL declares no
  soap:header for it, and with default options wsdl2h gives a SOAP_ENV__Header holding only the
  WS-Addressing fields of gSOAP's own wsa5.h. Neither wsdl2h nor the wsa plugin turns an EPR's
  wsa5:ReferenceParameters into headers, and the generated _ns1__ResourceId cannot carry the
  attribute (its xs:anyAttribute is an "_XML placeholder that has no effect" without wsdl2h -d).

  gSOAP's documented way to add a header block is a `mutable struct SOAP_ENV__Header` member in
  the interface file soapcpp2 reads (mutable: members of every declaration are merged). Rather
  than edit the generated uws.h (or typemap.dat), build.sh feeds soapcpp2 the unchanged uws.h
  followed by this file on standard input:

      cat uws.h resourceid.h | soapcpp2 -j -C -x -I/usr/share/gsoap/import

  The member is declared exactly as gSOAP's own import/wsa5.h declares the one reference
  parameter it knows (WCF's chan:ChannelInstance: simple content plus
  @_wsa5__IsReferenceParameter).

  Why not `#import "uws.h"` at the top of this file and `soapcpp2 resourceid.h`? It works, but
  soapcpp2 then treats everything in uws.h as imported: it ignores uws.h's `//gsoapopt c++,w`
  (so it also writes a WSDL and nine .xsd files) and prints 19 "*WARNING*: //gsoap ns5
  method-fault createJob ns1__InvalidJobDescriptionFault directive does not refer to
  struct/class or typedef" lines, one per declared fault. Concatenation gives the same code
  with no warning.

  "ns1" is the prefix wsdl2h gives urn:wsrf-uws:core:v1 by default (first schema namespace it
  meets); build.sh checks that before running soapcpp2. The generated C++ names the client uses
  (ns1__, ns5__, ns6__) depend on the same numbering.
*/

/// uwscore:ResourceId as a reference-parameter header block (the type name is local to C++:
/// it never appears on the wire, only the member name below does). The attribute is declared
/// required (1) and without a default: gSOAP does not write an attribute whose value equals
/// its declared default, so "= _wsa5__IsReferenceParameter__true" would drop it from the wire.
struct uwsResourceIdParameter
{   std::string __item;
    @_wsa5__IsReferenceParameter wsa5__IsReferenceParameter 1;
};

mutable struct SOAP_ENV__Header
{
    struct uwsResourceIdParameter *ns1__ResourceId 0;
};
