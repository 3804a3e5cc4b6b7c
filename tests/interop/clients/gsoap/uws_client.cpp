// Interoperability client on gSOAP 2.8 (C++): wsdl2h + soapcpp2 proxies, the wsa plugin, DOM.
//
// Usage: uws_client STEPS_ENDPOINT ADQL_ENDPOINT
//        (e.g. http://127.0.0.1:8080/uws/steps http://127.0.0.1:8080/uws/adql)
//
// Built by build.sh from the WSDLs served at ENDPOINT?wsdl (see docs/clients/cpp.md). Runs the
// interop scenario of tests/interop/README.md and prints one JSON object per line; exits 0 only
// when every check passed.
//
// What gSOAP needs (details in docs/clients/cpp.md):
// - Every operation goes through the generated proxies StepsSoapBindingProxy and
//   AdqlSoapBindingProxy (soapcpp2 -j), which share one soap context.
// - WS-Addressing: the wsa plugin (plugin/wsaapi.c). soap_wsa_request() fills wsa5:To,
//   wsa5:Action and wsa5:MessageID (urn:uuid:, from soap_wsa_rand_uuid) of soap->header before
//   each call; after each reply (faults too) soap_wsa_RelatesTo() must equal that MessageID and
//   soap_wsa_check() must find a wsa5:Action.
// - The uwscore:ResourceId reference parameter is the SOAP_ENV__Header member that resourceid.h
//   adds (gSOAP has no runtime way to put arbitrary header blocks in a typed header).
// - xs:any content (EPR reference parameters, GetResourcePropertyResponse, the VOTable in
//   exposedRows, unknown fault details) arrives as _XML strings (wsdl2h's default); they are
//   parsed with gSOAP's DOM API (soap_dom_element, operator>>), in a context of their own.
// - Faults: soap->fault->detail has one typed member per fault the WSDL declares.

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <chrono>
#include <vector>

#include "soapStepsSoapBindingProxy.h"
#include "soapAdqlSoapBindingProxy.h"
#include "StepsSoapBinding.nsmap"  // the global namespaces[] table that libgsoap++ links against
#include "wsaapi.h"
#include "operations.h"            // written by build.sh from the generated proxies

// WS-Addressing version of the generated code: wsdl2h #imports wsa5.h (WS-Addressing 1.0,
// which defines SOAP_WSA_2005) for ENDPOINT?wsdl and wsa.h (2004/08 member submission) for
// ENDPOINT?wsdl&addressing=2004-08 (build.sh with UWS_ADDRESSING=2004-08). The two give the
// same structures under the prefixes wsa5__ and wsa__.
#ifdef SOAP_WSA_2005
#define UWS_WSA(name) wsa5__##name
#else
#define UWS_WSA(name) wsa__##name
#endif

namespace {

const char *const STACK = "gsoap";
const char *const SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/";
#ifdef SOAP_WSA_2005
const char *const WSA = "http://www.w3.org/2005/08/addressing";
#else
const char *const WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing";
#endif
const char *const CORE = "urn:wsrf-uws:core:v1";
const char *const UWS = "http://www.ivoa.net/xml/UWS/v1.0";
const char *const XLINK = "http://www.w3.org/1999/xlink";

const char *const STEPS_JDL_OK[] = {"2", "0.1"};
const char *const STEPS_JDL_BAD[] = {"0", "0.1"};
const char *const ADQL_QUERY = "SELECT TOP 20 hip, hpmag FROM hipparcos.main ORDER BY hip";

struct CheckFailed : std::runtime_error {
    explicit CheckFailed(const std::string &what) : std::runtime_error(what) {}
};

void check(bool condition, const std::string &message)
{
    if (!condition)
        throw CheckFailed(message);
}

// ---- JSON output ---------------------------------------------------------------------------

std::string json_string(const std::string &s)
{
    std::string out = "\"";
    for (unsigned char c : s) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            if (c < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x", c);
                out += buf;
            } else {
                out += static_cast<char>(c);
            }
        }
    }
    return out + "\"";
}

std::string json_list(const std::vector<std::string> &items, bool quote = true)
{
    std::string out = "[";
    for (size_t i = 0; i < items.size(); ++i)
        out += (i ? ", " : "") + (quote ? json_string(items[i]) : items[i]);
    return out + "]";
}

/// One output line: {"stack": "gsoap", "step": STEP, "ok": true, fields...}.
class Line {
  public:
    explicit Line(const std::string &step, bool ok = true)
        : text_("{\"stack\": " + json_string(STACK) + ", \"step\": " + json_string(step)
                + ", \"ok\": " + (ok ? "true" : "false")) {}
    Line &raw(const std::string &key, const std::string &json) { text_ += ", " + json_string(key) + ": " + json; return *this; }
    Line &str(const std::string &key, const std::string &value) { return raw(key, json_string(value)); }
    Line &num(const std::string &key, long long value) { return raw(key, std::to_string(value)); }
    Line &boolean(const std::string &key, bool value) { return raw(key, value ? "true" : "false"); }
    void emit() const { std::printf("%s}\n", text_.c_str()); std::fflush(stdout); }
  private:
    std::string text_;
};

// ---- small helpers -------------------------------------------------------------------------

long long to_integer(const std::string &text, const std::string &what)
{
    errno = 0;
    char *end = nullptr;
    long long value = std::strtoll(text.c_str(), &end, 10);
    check(errno == 0 && end != text.c_str() && *end == '\0', what + " is not an integer: '" + text + "'");
    return value;
}

std::string iso(struct soap *soap, time_t t) { return soap_dateTime2s(soap, t); }

bool final_phase(const std::string &phase)
{
    return phase == "COMPLETED" || phase == "ERROR" || phase == "ABORTED" || phase == "ARCHIVED";
}

bool is_phase(const std::string &phase)
{
    static const char *const names[] = {"PENDING", "QUEUED", "EXECUTING", "COMPLETED", "ERROR",
                                        "ABORTED", "UNKNOWN", "HELD", "SUSPENDED", "ARCHIVED"};
    for (const char *name : names)
        if (phase == name)
            return true;
    return false;
}

// ---- DOM (gSOAP's soap_dom_element) ---------------------------------------------------------

std::string local_name(const soap_dom_element *e)
{
    const char *tag = e && e->name ? e->name : "";
    const char *colon = std::strrchr(tag, ':');
    return colon ? colon + 1 : tag;
}

std::string ns_of(const soap_dom_element *e) { return e && e->nstr ? e->nstr : ""; }

std::string qname_of(const soap_dom_element *e) { return "{" + ns_of(e) + "}" + local_name(e); }

bool is(const soap_dom_element *e, const char *ns, const char *local)
{
    return e && ns_of(e) == ns && local_name(e) == local;
}

std::string text_of(const soap_dom_element *e)
{
    const char *text = e ? soap_elt_get_text(e) : nullptr;
    return text ? text : "";
}

/// First child element {ns}local of e, or null.
soap_dom_element *child(soap_dom_element *e, const char *ns, const char *local)
{
    for (soap_dom_element *c = e ? soap_elt_first(e) : nullptr; c; c = soap_elt_next(c))
        if (is(c, ns, local))
            return c;
    return nullptr;
}

/// Attribute value {ns}local of e (ns "" for an unqualified attribute), or null. The DOM keeps
/// namespace declarations as attributes too (xmlns, xmlns:p, with no nstr): skipped.
const char *attribute(soap_dom_element *e, const char *ns, const char *local)
{
    for (soap_dom_attribute *a = e ? soap_att_first(e) : nullptr; a; a = soap_att_next(a)) {
        const char *tag = a->name ? a->name : "";
        if (std::strcmp(tag, "xmlns") == 0 || std::strncmp(tag, "xmlns:", 6) == 0)
            continue;
        const char *colon = std::strrchr(tag, ':');
        std::string a_local = colon ? colon + 1 : tag;
        std::string a_ns = a->nstr ? a->nstr : "";
        if (a_local == local && a_ns == ns)
            return a->text ? a->text : "";
    }
    return nullptr;
}

/// Parses XML text (an _XML string of the generated code) into a DOM tree, with gSOAP's own
/// parser (operator>> of soap_dom_element). The tree lives in the context `dom`.
soap_dom_element *parse(struct soap *dom, const std::string &xml, const std::string &what)
{
    soap_dom_element *root = soap_elt_new(dom, nullptr, nullptr);
    check(root != nullptr, "out of memory");
    std::istringstream in(xml);
    in >> *root;
    if (dom->error) {
        char buf[1024];
        soap_sprint_fault(dom, buf, sizeof buf);
        throw CheckFailed("cannot parse " + what + " as XML (" + buf + "): " + xml);
    }
    return root;
}

// ---- the session ---------------------------------------------------------------------------

/// Prefix of `uri` in the context's namespace table: gSOAP writes QName *content* as text
/// and declares every table prefix on the Envelope, so a QName value uses a table prefix.
std::string prefix_of(struct soap *soap, const char *uri)
{
    const Namespace *table = soap->local_namespaces ? soap->local_namespaces : soap->namespaces;
    for (const Namespace *p = table; p && p->id; ++p)
        if (p->ns && std::strcmp(p->ns, uri) == 0)
            return p->id;
    throw CheckFailed(std::string("no prefix for ") + uri + " in the namespace table");
}

const char *action_of(const ProxyOperation *ops, const char *name)
{
    for (const ProxyOperation *op = ops; op->name; ++op)
        if (std::strcmp(op->name, name) == 0)
            return op->action;
    throw CheckFailed(std::string("the generated proxy has no operation ") + name);
}

std::string fault_text(struct soap *soap)
{
    char buf[2048];
    soap_sprint_fault(soap, buf, sizeof buf);
    std::string text = buf;
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
        text.pop_back();
    for (char &c : text)
        if (c == '\n' || c == '\r')
            c = ' ';
    return text;
}

/// "{namespace}local" of the element in a SOAP 1.1 fault detail: the typed member gSOAP filled
/// (one per fault element the WSDL declares), else whatever landed in __any.
std::string detail_qname(struct soap *soap, struct soap *dom, const SOAP_ENV__Detail *d)
{
    check(d != nullptr, "the fault has no detail");
#define UWS_DETAIL(member) \
    if (d->member) { \
        std::string name = #member; \
        size_t sep = name.find("__"); \
        std::string prefix = name.substr(0, sep), local = name.substr(sep + 2); \
        const Namespace *table = soap->local_namespaces ? soap->local_namespaces : soap->namespaces; \
        for (const Namespace *p = table; p && p->id; ++p) \
            if (prefix == p->id) \
                return "{" + std::string(p->ns) + "}" + local; \
    }
    UWS_DETAIL(wsrfr__ResourceUnknownFault)
    UWS_DETAIL(ns1__InvalidJobDescriptionFault)
    UWS_DETAIL(ns1__InvalidPhaseFault)
    UWS_DETAIL(ns1__NotAuthenticatedFault)
    UWS_DETAIL(ns1__QuotaExceededFault)
    UWS_DETAIL(ns2__InvalidResourcePropertyQNameFault)
    UWS_DETAIL(ns3__ResourceNotDestroyedFault)
    UWS_DETAIL(ns3__TerminationTimeChangeRejectedFault)
    UWS_DETAIL(ns3__UnableToSetTerminationTimeFault)
#undef UWS_DETAIL
    if (d->__any)
        return qname_of(parse(dom, d->__any, "the fault detail"));
    throw CheckFailed("the fault detail holds no element gSOAP could read");
}

class Session {
  public:
    Session(const std::string &steps_endpoint, const std::string &adql_endpoint)
        : soap_(soap_new1(SOAP_C_UTFSTRING)),
          dom_(soap_new1(SOAP_C_UTFSTRING | SOAP_DOM_TREE)),
          steps(soap_), adql(soap_),
          steps_endpoint_(steps_endpoint), adql_endpoint_(adql_endpoint)
    {
        check(soap_ && dom_, "out of memory");
        // The wsa plugin: fills wsa5:To/Action/MessageID, copies the reply's Action to soap->action.
        check(soap_register_plugin(soap_, soap_wsa) == SOAP_OK, "cannot register the wsa plugin");
        soap_->connect_timeout = 10;
        soap_->recv_timeout = 30;
        soap_->send_timeout = 30;
    }

    ~Session()
    {
        soap_destroy(dom_); soap_end(dom_); soap_free(dom_);
        soap_destroy(soap_); soap_end(soap_); soap_free(soap_);
    }

    struct soap *soap() { return soap_; }
    struct soap *dom() { return dom_; }

    /// Sets the request headers of the next call: wsa5:To = the EPR's Address, wsa5:Action,
    /// a fresh wsa5:MessageID, and the uwscore:ResourceId reference parameter when given.
    void prepare(const std::string &to, const char *action, const std::string &resource_id)
    {
        const char *id = soap_wsa_rand_uuid(soap_);
        check(id != nullptr, "soap_wsa_rand_uuid failed");
        if (soap_wsa_request(soap_, id, to.c_str(), action) != SOAP_OK)
            throw CheckFailed("soap_wsa_request: " + fault_text(soap_));
        message_id_ = id;
        uwsResourceIdParameter *parameter = nullptr;
        if (!resource_id.empty()) {
            parameter = soap_new_uwsResourceIdParameter(soap_);
            parameter->__item = resource_id;
#ifdef SOAP_WSA_2005
            parameter->wsa5__IsReferenceParameter = _wsa5__IsReferenceParameter__true;
#endif
        }
        soap_->header->ns1__ResourceId = parameter;
    }

    /// After a call: a transport error is an error; a reply (or SOAP fault) must carry
    /// wsa5:RelatesTo = the request's MessageID and a wsa5:Action. Returns the call's code.
    int finish(int rc, const std::string &what)
    {
        if (rc != SOAP_OK && rc != SOAP_FAULT)
            throw CheckFailed(what + " failed: " + fault_text(soap_));
        const char *relates_to = soap_wsa_RelatesTo(soap_);
        check(relates_to != nullptr, what + ": the reply has no wsa:RelatesTo");
        check(message_id_ == relates_to,
              what + ": wsa:RelatesTo '" + relates_to + "' is not the request's MessageID '" + message_id_ + "'");
        // The plugin's own check: the reply's header must hold a wsa:Action (when it does not,
        // soap_wsa_check turns the context into a MessageAddressingHeaderRequired fault).
        if (soap_wsa_check(soap_) != SOAP_OK)
            throw CheckFailed(what + ": the reply has no wsa:Action (" + fault_text(soap_) + ")");
        ++replies_checked_;
        return rc;
    }

    void expect_ok(int rc, const std::string &what)
    {
        if (finish(rc, what) != SOAP_OK)
            throw CheckFailed(what + " answered a fault: " + fault_text(soap_));
    }

    /// A call that must answer a SOAP fault: returns {fault detail QName, faultcode}.
    std::pair<std::string, std::string> expect_fault(int rc, const std::string &what)
    {
        check(finish(rc, what) == SOAP_FAULT, what + " answered without a fault");
        const SOAP_ENV__Fault *fault = soap_->fault;
        check(fault != nullptr, what + ": no fault structure");
        std::string code = fault->faultcode ? fault->faultcode : "";
        return {detail_qname(soap_, dom_, fault->detail), code};
    }

    int replies_checked() const { return replies_checked_; }
    const std::string &steps_endpoint() const { return steps_endpoint_; }
    const std::string &adql_endpoint() const { return adql_endpoint_; }

  private:
    struct soap *soap_;
    struct soap *dom_;

  public:
    StepsSoapBindingProxy steps;   // the generated proxies (soapcpp2 -j), sharing soap_
    AdqlSoapBindingProxy adql;

  private:
    std::string steps_endpoint_, adql_endpoint_;
    std::string message_id_;
    int replies_checked_ = 0;
};

/// What one request's SOAP header looks like on the wire: the envelope soapcpp2's send_*
/// functions write (soap_envelope_begin_out, soap_putheader, ...), written to a string instead
/// of a socket and read back with the DOM.
Line header_style(Session &s)
{
    struct soap *soap = s.soap();
    s.prepare(s.steps_endpoint(), action_of(STEPS_OPERATIONS, "startJob"), "example");
    std::ostringstream out;
    soap->os = &out;
    soap_serializeheader(soap);
    int rc = soap_begin_send(soap) || soap_envelope_begin_out(soap) || soap_putheader(soap)
             || soap_body_begin_out(soap) || soap_body_end_out(soap)
             || soap_envelope_end_out(soap) || soap_end_send(soap);
    soap->os = nullptr;
    check(rc == 0, "cannot write a request header: " + fault_text(soap));

    soap_dom_element *envelope = parse(s.dom(), out.str(), "a request envelope");
    soap_dom_element *header = child(envelope, SOAP_ENV, "Header");
    check(header != nullptr, "the request has no SOAP Header: " + out.str());
    std::vector<std::string> must_understand;
    std::string is_reference_parameter, message_id;
    bool resource_id_header = false;
    for (soap_dom_element *h = soap_elt_first(header); h; h = soap_elt_next(h)) {
        const char *mu = attribute(h, SOAP_ENV, "mustUnderstand");
        if (mu && (std::strcmp(mu, "1") == 0 || std::strcmp(mu, "true") == 0))
            must_understand.push_back(local_name(h));
        if (is(h, CORE, "ResourceId")) {
            const char *irp = attribute(h, WSA, "IsReferenceParameter");
#ifdef SOAP_WSA_2005
            check(irp != nullptr, "the ResourceId header has no wsa:IsReferenceParameter: " + out.str());
#endif
            resource_id_header = true;
            is_reference_parameter = irp ? json_string(irp) : "null";  // 2004/08 has no such attribute
        }
        if (is(h, WSA, "MessageID")) {
            std::string id = text_of(h);
            message_id = id.compare(0, 9, "urn:uuid:") == 0 ? "urn:uuid:" : id.compare(0, 5, "uuid:") == 0 ? "uuid:" : id;
        }
    }
    check(resource_id_header, "the request has no uwscore:ResourceId header: " + out.str());
    Line line("wsdl");
    std::vector<std::string> operations;
    for (const ProxyOperation *op = STEPS_OPERATIONS; op->name; ++op)
        operations.push_back(op->name);
    line.str("version", std::to_string(GSOAP_VERSION / 100000) + "." + std::to_string(GSOAP_VERSION / 1000 % 100)
                        + "." + std::to_string(GSOAP_VERSION % 1000));  // 208124 -> 2.8.124
    line.raw("operations", json_list(operations));
    line.raw("header_style", "{\"is_reference_parameter\": " + is_reference_parameter
                             + ", \"must_understand\": " + json_list(must_understand)
                             + ", \"message_id\": " + json_string(message_id) + "}");
    return line;
}

/// The uwscore:ResourceId among an EPR's reference parameters (_XML strings, read with the DOM).
std::string resource_id_of(Session &s, const UWS_WSA(EndpointReferenceType) &epr)
{
    check(epr.ReferenceParameters != nullptr, "the EPR has no wsa:ReferenceParameters");
    for (int i = 0; i < epr.ReferenceParameters->__size; ++i) {
        soap_dom_element *e = parse(s.dom(), epr.ReferenceParameters->__any[i], "a reference parameter");
        if (is(e, CORE, "ResourceId")) {
            std::string id = text_of(e);
            check(!id.empty(), "the uwscore:ResourceId is empty");
            return id;
        }
    }
    throw CheckFailed("the EPR holds no uwscore:ResourceId");
}

/// GetResourceProperty through the generated proxy of `proxy`; the answer (xs:any, _XML
/// strings) parsed with the DOM; returns the one element {ns}local.
template <class Proxy>
soap_dom_element *get_property(Session &s, Proxy &proxy, const ProxyOperation *ops, const std::string &address,
                               const std::string &resource_id, const char *ns, const char *local)
{
    const char *action = action_of(ops, "GetResourceProperty");
    s.prepare(address, action, resource_id);
    std::string qname = prefix_of(s.soap(), ns) + ":" + local;
    _ns2__GetResourcePropertyResponse response;
    s.expect_ok(proxy.GetResourceProperty(address.c_str(), action, qname, response), "GetResourceProperty " + qname);
    check(response.__any.size() == 1, "GetResourceProperty " + qname + " answered "
                                      + std::to_string(response.__any.size()) + " elements");
    soap_dom_element *e = parse(s.dom(), response.__any[0], "the GetResourcePropertyResponse content");
    check(is(e, ns, local), "GetResourceProperty " + qname + " answered " + qname_of(e));
    return e;
}

template <class Proxy>
std::pair<std::string, int> wait_final(Session &s, Proxy &proxy, const ProxyOperation *ops,
                                       const std::string &address, const std::string &resource_id)
{
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    int polls = 0;
    for (;;) {
        std::string phase = text_of(get_property(s, proxy, ops, address, resource_id, CORE, "Phase"));
        ++polls;
        check(is_phase(phase), "uwscore:Phase is '" + phase + "'");
        if (final_phase(phase))
            return {phase, polls};
        check(std::chrono::steady_clock::now() < deadline, "the job is still " + phase + " after 60 s");
        std::this_thread::sleep_for(std::chrono::milliseconds(150));
    }
}

/// HTTP GET with gSOAP's own client, in a context of its own: soap_GET sends the request,
/// soap_begin_recv reads the response header (an HTTP error status becomes soap->error),
/// soap_http_get_body reads the body, soap->status holds the status code.
Line download(const std::string &name, const std::string &href)
{
    struct soap *http = soap_new();
    check(http != nullptr, "out of memory");
    std::string error;
    int status = 0;
    size_t length = 0;
    if (soap_GET(http, href.c_str(), nullptr) != SOAP_OK || soap_begin_recv(http) != SOAP_OK) {
        error = "GET " + href + ": " + fault_text(http);
    } else {
        status = http->status;
        if (!soap_http_get_body(http, &length) && http->error)
            error = "GET " + href + ": " + fault_text(http);
        else if (soap_end_recv(http) != SOAP_OK)
            error = "GET " + href + ": " + fault_text(http);
    }
    soap_closesock(http);
    soap_destroy(http); soap_end(http); soap_free(http);
    check(error.empty(), error);
    check(status == 200, "GET " + href + " answered HTTP " + std::to_string(status));
    Line line("download");
    line.str("name", name).str("href", href).num("status", status).num("bytes", static_cast<long long>(length));
    return line;
}

void run(const std::string &steps_endpoint, const std::string &adql_endpoint)
{
    Session s(steps_endpoint, adql_endpoint);
    struct soap *soap = s.soap();

    // 1. wsdl
    header_style(s).emit();

    // 2. createJob
    std::string address = steps_endpoint, resource_id;
    {
        const char *action = action_of(STEPS_OPERATIONS, "createJob");
        s.prepare(address, action, "");
        _ns5__job job;
        job.steps = STEPS_JDL_OK[0];
        job.stepSeconds = STEPS_JDL_OK[1];
        _ns5__createJob request;
        request.job = &job;
        _ns5__createJobResponse response;
        s.expect_ok(s.steps.createJob(address.c_str(), action, &request, response), "createJob");
        const UWS_WSA(EndpointReferenceType) &epr = response.UWS_WSA(EndpointReference);
        check(epr.Address != nullptr && *epr.Address, "the EPR has no wsa:Address");
        address = epr.Address;
        resource_id = resource_id_of(s, epr);
        Line("createJob").str("resource_id", resource_id).str("address", address).emit();
    }

    // 3. startJob
    {
        const char *action = action_of(STEPS_OPERATIONS, "startJob");
        s.prepare(address, action, resource_id);
        _ns5__startJob request;
        _ns5__startJobResponse response;
        s.expect_ok(s.steps.startJob(address.c_str(), action, &request, response), "startJob");
        std::string phase = soap_ns1__PhaseType2s(soap, response.ns1__Phase);
        check(is_phase(phase), "startJob answered '" + phase + "'");
        Line("startJob").str("phase", phase).emit();
    }

    // 4. waitCompleted
    {
        auto result = wait_final(s, s.steps, STEPS_OPERATIONS, address, resource_id);
        check(result.first == "COMPLETED", "the job ended " + result.first);
        Line("waitCompleted").str("phase", result.first).num("polls", result.second).emit();
    }

    // 5. jobState
    std::string first_name, first_href;
    {
        soap_dom_element *state = get_property(s, s.steps, STEPS_OPERATIONS, address, resource_id, CORE, "JobState");
        std::string phase = text_of(child(state, CORE, "Phase"));
        check(phase == "COMPLETED", "JobState phase is '" + phase + "'");
        std::vector<std::string> results;
        for (soap_dom_element *e = soap_dom_next_element(state, state); e; e = soap_dom_next_element(e, state)) {
            if (!is(e, CORE, "Result"))
                continue;
            const char *name = attribute(e, "", "name");
            const char *href = attribute(e, XLINK, "href");
            const char *size = attribute(e, "", "size");
            check(name && href, "a uwscore:Result lacks name or xlink:href");
            if (first_href.empty()) {
                first_name = name;
                first_href = href;
            }
            results.push_back("{\"name\": " + json_string(name) + ", \"href\": " + json_string(href)
                              + ", \"size\": " + (size ? std::to_string(to_integer(size, "Result size")) : "null") + "}");
        }
        check(!results.empty(), "JobState lists no uwscore:Result");
        Line("jobState").str("phase", phase).raw("results", json_list(results, false)).emit();
    }

    // 6. download
    download(first_name, first_href).emit();

    // 7. getJob
    {
        soap_dom_element *job = get_property(s, s.steps, STEPS_OPERATIONS, address, resource_id, UWS, "job");
        std::string job_id = text_of(child(job, UWS, "jobId"));
        std::string phase = text_of(child(job, UWS, "phase"));
        check(job_id == resource_id, "uws:job jobId '" + job_id + "' is not '" + resource_id + "'");
        check(is_phase(phase), "uws:job phase is '" + phase + "'");
        Line("getJob").str("job_id", job_id).str("phase", phase).emit();
    }

    // 8. setTerminationTime
    {
        const char *action = action_of(STEPS_OPERATIONS, "SetTerminationTime");
        s.prepare(address, action, resource_id);
        time_t requested = std::time(nullptr) + 2 * 3600;
        _ns3__SetTerminationTime request;
        request.__union_SetTerminationTime = SOAP_UNION__ns3__union_SetTerminationTime_RequestedTerminationTime;
        request.union_SetTerminationTime.RequestedTerminationTime = &requested;
        _ns3__SetTerminationTimeResponse response;
        s.expect_ok(s.steps.SetTerminationTime(address.c_str(), action, &request, response), "SetTerminationTime");
        check(response.NewTerminationTime != nullptr, "NewTerminationTime is nil");
        time_t now = std::time(nullptr);
        bool in_future = *response.NewTerminationTime > response.CurrentTime;
        check(in_future, "NewTerminationTime is not after CurrentTime");
        check(*response.NewTerminationTime > now, "NewTerminationTime is not in the future");
        Line("setTerminationTime")
            .str("new_termination_time", iso(soap, *response.NewTerminationTime))
            .str("current_time", iso(soap, response.CurrentTime))
            .boolean("in_future", in_future)
            .emit();
    }

    // 9. destroy
    {
        const char *action = action_of(STEPS_OPERATIONS, "Destroy");
        s.prepare(address, action, resource_id);
        _ns3__Destroy request;
        _ns3__DestroyResponse response;
        s.expect_ok(s.steps.Destroy(address.c_str(), action, &request, response), "Destroy");
        Line("destroy").emit();
    }

    // 10. afterDestroy
    {
        const char *action = action_of(STEPS_OPERATIONS, "GetResourceProperty");
        s.prepare(address, action, resource_id);
        _ns2__GetResourcePropertyResponse response;
        auto fault = s.expect_fault(
            s.steps.GetResourceProperty(address.c_str(), action, prefix_of(soap, CORE) + ":Phase", response),
            "GetResourceProperty after Destroy");
        check(fault.first == "{http://docs.oasis-open.org/wsrf/r-2}ResourceUnknownFault",
              "the fault detail holds " + fault.first);
        Line("afterDestroy").str("fault", fault.first).str("faultcode", fault.second).emit();
    }

    // 11. invalidJdl
    {
        const char *action = action_of(STEPS_OPERATIONS, "createJob");
        s.prepare(steps_endpoint, action, "");
        _ns5__job job;
        job.steps = STEPS_JDL_BAD[0];
        job.stepSeconds = STEPS_JDL_BAD[1];
        _ns5__createJob request;
        request.job = &job;
        _ns5__createJobResponse response;
        auto fault = s.expect_fault(s.steps.createJob(steps_endpoint.c_str(), action, &request, response),
                                    "createJob with steps=0");
        check(fault.first == std::string("{") + CORE + "}InvalidJobDescriptionFault",
              "the fault detail holds " + fault.first);
        Line("invalidJdl").str("fault", fault.first).str("faultcode", fault.second).emit();
    }

    // 12. adqlCreate
    std::string adql_address = adql_endpoint, adql_id;
    {
        const char *action = action_of(ADQL_OPERATIONS, "createJob");
        s.prepare(adql_address, action, "");
        _ns6__job job;
        job.query.__item = ADQL_QUERY;
        ns6__Serialization format = ns6__Serialization__TABLEDATA;
        job.format = &format;
        _ns6__createJob request;
        request.job = &job;
        _ns6__createJobResponse response;
        s.expect_ok(s.adql.createJob(adql_address.c_str(), action, &request, response), "adql createJob");
        const UWS_WSA(EndpointReferenceType) &epr = response.UWS_WSA(EndpointReference);
        check(epr.Address != nullptr && *epr.Address, "the EPR has no wsa:Address");
        adql_address = epr.Address;
        adql_id = resource_id_of(s, epr);
        Line("adqlCreate").str("resource_id", adql_id).str("address", adql_address).emit();
    }

    // 13. adqlRun
    {
        const char *action = action_of(ADQL_OPERATIONS, "startJob");
        s.prepare(adql_address, action, adql_id);
        _ns6__startJob request;
        _ns6__startJobResponse response;
        s.expect_ok(s.adql.startJob(adql_address.c_str(), action, &request, response), "adql startJob");
        auto result = wait_final(s, s.adql, ADQL_OPERATIONS, adql_address, adql_id);
        check(result.first == "COMPLETED", "the adql job ended " + result.first);
        Line("adqlRun").str("phase", result.first).num("polls", result.second).emit();
    }

    // 14. exposeRows
    {
        const char *action = action_of(ADQL_OPERATIONS, "exposeRows");
        s.prepare(adql_address, action, adql_id);
        _ns6__exposeRows request;
        request.start = "5";
        request.end = "10";
        _ns6__exposeRowsResponse response;
        s.expect_ok(s.adql.exposeRows(adql_address.c_str(), action, &request, response), "exposeRows");
        check(response.exposedRows != nullptr, "exposeRowsResponse has no exposedRows");
        long long rows = to_integer(response.rows, "rows");
        long long start = to_integer(response.exposedRows->start, "exposedRows/@start");
        long long end = to_integer(response.exposedRows->end, "exposedRows/@end");
        check(response.exposedRows->__any != nullptr, "exposedRows holds no VOTable");
        soap_dom_element *votable = parse(s.dom(), response.exposedRows->__any, "the exposed VOTable");
        check(local_name(votable) == "VOTABLE", "exposedRows holds " + qname_of(votable));
        std::string vo_ns = ns_of(votable);
        std::vector<std::string> values;
        for (soap_dom_element *e = soap_dom_next_element(votable, votable); e; e = soap_dom_next_element(e, votable)) {
            if (ns_of(e) != vo_ns || local_name(e) != "TR")
                continue;
            soap_dom_element *td = child(e, vo_ns.c_str(), "TD");
            check(td != nullptr, "a TR without TD");
            values.push_back(std::to_string(to_integer(text_of(td), "hip")));
        }
        check(start == 5 && end == 10, "exposedRows is " + std::to_string(start) + ".." + std::to_string(end));
        check(values.size() == 5, "the VOTable holds " + std::to_string(values.size()) + " rows, not 5");
        Line("exposeRows").num("rows", rows).num("start", start).num("end", end)
            .raw("values", json_list(values, false)).emit();
    }

    // 15. adqlDestroy
    {
        const char *action = action_of(ADQL_OPERATIONS, "Destroy");
        s.prepare(adql_address, action, adql_id);
        _ns3__Destroy request;
        _ns3__DestroyResponse response;
        s.expect_ok(s.adql.Destroy(adql_address.c_str(), action, &request, response), "adql Destroy");
        Line("adqlDestroy").emit();
    }

    // 16. done
    Line("done").boolean("relates_to_checked", true).num("replies_checked", s.replies_checked()).emit();
}

std::string strip_slash(std::string url)
{
    while (!url.empty() && url.back() == '/')
        url.pop_back();
    return url;
}

}  // namespace

int main(int argc, char **argv)
{
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s STEPS_ENDPOINT ADQL_ENDPOINT\n", argv[0]);
        return 2;
    }
    try {
        run(strip_slash(argv[1]), strip_slash(argv[2]));
    } catch (const std::exception &error) {
        Line("error", false).str("error", error.what()).emit();
        return 1;
    }
    return 0;
}
