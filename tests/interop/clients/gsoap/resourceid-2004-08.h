/*
  resourceid-2004-08.h: resourceid.h for code generated from ENDPOINT?wsdl&addressing=2004-08
  (build.sh with UWS_ADDRESSING=2004-08), where wsdl2h #imports gSOAP's wsa.h (WS-Addressing
  2004/08 member submission) instead of wsa5.h. See resourceid.h for why this declaration is
  needed and how build.sh uses it.

  The member submission has no wsa:IsReferenceParameter attribute (WS-Addressing 1.0 introduced
  it), and wsa.h declares no _wsa__IsReferenceParameter: a 2004/08 client sends the reference
  parameter as a plain header block, <uwscore:ResourceId>...</uwscore:ResourceId>.
*/

/// uwscore:ResourceId as a header block (the type name is local to C++).
struct uwsResourceIdParameter
{   std::string __item;
};

mutable struct SOAP_ENV__Header
{
    struct uwsResourceIdParameter *ns1__ResourceId 0;
};
