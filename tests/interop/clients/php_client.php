<?php
// Interoperability client on PHP's SoapClient (ext-soap).
//
// Usage: php php_client.php STEPS_ENDPOINT ADQL_ENDPOINT
//        (e.g. http://127.0.0.1:8080/uws/steps http://127.0.0.1:8080/uws/adql)
//
// Runs the interop scenario (tests/interop/README.md) from the WSDLs published at
// ENDPOINT?wsdl and prints one JSON object per line per step. Exits 0 only when every
// check passed.
//
// What SoapClient needs (details in tests/interop/README.md):
// - No WS-Addressing support: wsa:To/Action/MessageID are plain SoapHeader objects
//   passed to __soapCall. SoapHeader's own mustUnderstand flag is used on To and
//   Action (this client's header style), and MessageIDs are `uuid:` (not `urn:uuid:`).
// - SoapHeader cannot put an attribute on a header element, so the ResourceId
//   reference parameter (wsa:IsReferenceParameter="true") is a raw-XML
//   SoapVar(..., XSD_ANYXML).
// - SoapClient does not expose the binding's soapAction, so the wsa:Action of each
//   operation is read from the WSDL's wsam:Action with DOM.
// - GetResourceProperty's body is xs:QName content; SoapClient writes the text but never
//   declares its prefix, so that one body is raw XML (SoapVar XSD_ANYXML) declaring it.
// - Fault details are decoded by local name only; the detail element's namespace is
//   checked on the raw reply with DOM.
// - xs:any content is decoded into an `any` array keyed by the local names of elements
//   the WSDL's schemas declare (uwscore:JobState, uws:job); an element no schema declares
//   (the VOTable in exposedRows) stays an XML string, read here with DOM.
// - Result downloads use PHP's own HTTP stream wrapper (file_get_contents).

declare(strict_types=1);

const WSA = 'http://www.w3.org/2005/08/addressing';
const WSAM = 'http://www.w3.org/2007/05/addressing/metadata';
const WSDL_NS = 'http://schemas.xmlsoap.org/wsdl/';
const SOAP_ENV = 'http://schemas.xmlsoap.org/soap/envelope/';
const CORE = 'urn:wsrf-uws:core:v1';
const UWS = 'http://www.ivoa.net/xml/UWS/v1.0';
const RP = 'http://docs.oasis-open.org/wsrf/rp-2';
const VOTABLE = 'http://www.ivoa.net/xml/VOTable/v1.3';
const FINAL_PHASES = ['COMPLETED', 'ERROR', 'ABORTED', 'ARCHIVED'];
const PHASES = ['PENDING', 'QUEUED', 'EXECUTING', 'COMPLETED', 'ERROR', 'ABORTED',
                'UNKNOWN', 'HELD', 'SUSPENDED', 'ARCHIVED'];
const QUERY = 'SELECT TOP 20 hip, hpmag FROM hipparcos.main ORDER BY hip';

final class CheckFailed extends Exception {}

function emit(string $step, array $fields = []): void
{
    $line = ['stack' => 'php', 'step' => $step, 'ok' => true] + $fields;
    echo json_encode($line, JSON_UNESCAPED_SLASHES), "\n";
}

function check(bool $condition, string $message): void
{
    if (!$condition) {
        throw new CheckFailed($message);
    }
}

function xml_escape(string $text): string
{
    return htmlspecialchars($text, ENT_XML1 | ENT_QUOTES, 'UTF-8');
}

function uuid4(): string
{
    $b = random_bytes(16);
    $b[6] = chr((ord($b[6]) & 0x0f) | 0x40);
    $b[8] = chr((ord($b[8]) & 0x3f) | 0x80);
    return vsprintf('%s%s-%s-%s-%s-%s%s%s', str_split(bin2hex($b), 4));
}

/** The text of a simple-content value: SoapClient gives either a string or {_: string}. */
function text($value): string
{
    if (is_object($value) && property_exists($value, '_')) {
        return (string) $value->_;
    }
    return (string) $value;
}

/** wsam:Action of each operation's input, read from the portType of ENDPOINT?wsdl. */
function wsdl_actions(string $wsdlUrl): array
{
    $doc = new DOMDocument();
    check(@$doc->load($wsdlUrl, LIBXML_NONET) !== false, "cannot parse $wsdlUrl");
    $xpath = new DOMXPath($doc);
    $xpath->registerNamespace('wsdl', WSDL_NS);
    $xpath->registerNamespace('wsam', WSAM);
    $actions = [];
    foreach ($xpath->query('/wsdl:definitions/wsdl:portType/wsdl:operation') as $operation) {
        $input = $xpath->query('wsdl:input', $operation)->item(0);
        $action = $input instanceof DOMElement ? $input->getAttributeNS(WSAM, 'Action') : '';
        check($action !== '', 'no wsam:Action on the input of ' . $operation->getAttribute('name'));
        $actions[$operation->getAttribute('name')] = $action;
    }
    return $actions;
}

final class Session
{
    public SoapClient $client;
    public array $actions;
    public string $address;
    public ?string $resourceId = null;
    public int $replies = 0;
    private string $endpoint;
    private string $messageId = '';

    public function __construct(string $endpoint)
    {
        $this->endpoint = $endpoint;
        $this->client = new SoapClient($endpoint . '?wsdl', [
            'trace' => true,
            'exceptions' => true,
            'cache_wsdl' => WSDL_CACHE_NONE,
            'soap_version' => SOAP_1_1,
        ]);
        $this->actions = wsdl_actions($endpoint . '?wsdl');
        $this->address = $endpoint;
    }

    private function headers(string $operation): array
    {
        $this->messageId = 'uuid:' . uuid4();
        $headers = [
            new SoapHeader(WSA, 'To', $this->address, true),              // mustUnderstand="1"
            new SoapHeader(WSA, 'Action', $this->actions[$operation], true),
            new SoapHeader(WSA, 'MessageID', $this->messageId),
        ];
        if ($this->resourceId !== null) {
            // SoapHeader cannot carry wsa:IsReferenceParameter: raw XML for this header.
            $xml = '<uwscore:ResourceId xmlns:uwscore="' . CORE . '" xmlns:wsa="' . WSA
                 . '" wsa:IsReferenceParameter="true">' . xml_escape($this->resourceId)
                 . '</uwscore:ResourceId>';
            $headers[] = new SoapHeader(CORE, 'ResourceId', new SoapVar($xml, XSD_ANYXML));
        }
        return $headers;
    }

    /** Take the ResourceId and Address of a createJob reply for the later calls. */
    public function attach($reply): string
    {
        $epr = $reply->EndpointReference;
        $any = $epr->ReferenceParameters->any ?? [];
        check(is_array($any) && isset($any['ResourceId']), 'the EPR holds no uwscore:ResourceId');
        $resourceId = text($any['ResourceId']);
        check($resourceId !== '', 'the uwscore:ResourceId is empty');
        $this->address = text($epr->Address);
        $this->resourceId = $resourceId;
        return $resourceId;
    }

    public function detach(): void
    {
        $this->address = $this->endpoint;
        $this->resourceId = null;
    }

    /** Call $operation with fresh WS-A headers; check the reply's wsa:RelatesTo, faults too. */
    public function call(string $operation, $parameters)
    {
        $this->client->__setLocation($this->address);
        try {
            return $this->client->__soapCall($operation, [$parameters], null,
                                             $this->headers($operation));
        } finally {
            $this->checkRelatesTo();
        }
    }

    /** GetResourceProperty; the decoded property element (by local name). */
    public function property(string $prefix, string $namespace, string $local)
    {
        $reply = $this->call('GetResourceProperty', property_request($prefix, $namespace, $local));
        check(isset($reply->any[$local]), "GetResourceProperty $prefix:$local answered no $local");
        return $reply->any[$local];
    }

    public function phase(): string
    {
        $phase = text($this->property('uwscore', CORE, 'Phase'));
        check(in_array($phase, PHASES, true), "uwscore:Phase is '$phase'");
        return $phase;
    }

    /** Poll the Phase until it is final; [phase, polls]. */
    public function wait(): array
    {
        $deadline = microtime(true) + 60;
        $polls = 0;
        while (true) {
            $phase = $this->phase();
            $polls++;
            if (in_array($phase, FINAL_PHASES, true)) {
                return [$phase, $polls];
            }
            check(microtime(true) < $deadline, "still $phase after 60 s");
            usleep(150000);
        }
    }

    /** [{ns}local of the fault's detail element, faultcode]: the namespace read with DOM. */
    public function faultOf(SoapFault $fault): array
    {
        $xpath = $this->lastReply();
        $detail = $xpath->query('/soap:Envelope/soap:Body/soap:Fault/detail/*')->item(0);
        check($detail instanceof DOMElement, 'the fault has no detail element');
        check(isset($fault->detail->{$detail->localName}),
              "SoapFault->detail lacks {$detail->localName}");
        return ['{' . $detail->namespaceURI . '}' . $detail->localName, $fault->faultcode];
    }

    public function lastReply(): DOMXPath
    {
        $doc = new DOMDocument();
        check(@$doc->loadXML((string) $this->client->__getLastResponse()) !== false,
              'the reply is not XML');
        $xpath = new DOMXPath($doc);
        $xpath->registerNamespace('soap', SOAP_ENV);
        $xpath->registerNamespace('wsa', WSA);
        return $xpath;
    }

    public function checkRelatesTo(): void
    {
        $relates = $this->lastReply()->evaluate('string(/soap:Envelope/soap:Header/wsa:RelatesTo)');
        check($relates === $this->messageId,
              "wsa:RelatesTo '$relates' is not '{$this->messageId}'");
        $this->replies++;
    }
}

/** GetResourceProperty's body: raw XML, so that the QName's prefix is declared on it. */
function property_request(string $prefix, string $namespace, string $local): SoapVar
{
    // SoapClient serializes xs:QName content as text without declaring the prefix.
    $xml = '<wsrfrp:GetResourceProperty xmlns:wsrfrp="' . RP . '" xmlns:' . $prefix . '="'
         . $namespace . '">' . $prefix . ':' . $local . '</wsrfrp:GetResourceProperty>';
    return new SoapVar($xml, XSD_ANYXML);
}

/** A list for a value SoapClient decodes as one object or an array of them. */
function as_list($value): array
{
    if ($value === null) {
        return [];
    }
    return is_array($value) ? $value : [$value];
}

function steps_scenario(Session $steps): void
{
    $operations = array_keys($steps->actions);
    sort($operations);
    emit('wsdl', ['version' => PHP_VERSION, 'operations' => $operations, 'header_style' => [
        'is_reference_parameter' => 'true', 'must_understand' => ['To', 'Action'],
        'message_id' => 'uuid:',
    ]]);

    $job = ['job' => ['steps' => 2, 'stepSeconds' => '0.1']];
    $resourceId = $steps->attach($steps->call('createJob', $job));
    emit('createJob', ['resource_id' => $resourceId, 'address' => $steps->address]);

    emit('startJob', ['phase' => text($steps->call('startJob', [])->Phase)]);

    [$phase, $polls] = $steps->wait();
    emit('waitCompleted', ['phase' => $phase, 'polls' => $polls]);

    $state = $steps->property('uwscore', CORE, 'JobState');
    $results = [];
    foreach (as_list($state->Result ?? null) as $result) {
        $results[] = [
            'name' => (string) $result->name,
            'href' => (string) $result->href,
            'size' => isset($result->size) ? (int) $result->size : null,
        ];
    }
    check($results !== [], 'JobState lists no result');
    emit('jobState', ['phase' => text($state->Phase), 'results' => $results]);

    $result = $results[0];
    $body = @file_get_contents($result['href']);
    // PHP's http stream wrapper leaves the status line in $http_response_header.
    $statusLine = $http_response_header[0] ?? '';
    check(preg_match('#^HTTP/\S+ (\d{3})#', $statusLine, $match) === 1,
          "no HTTP status for {$result['href']}: '$statusLine'");
    emit('download', ['name' => $result['name'], 'href' => $result['href'],
                      'status' => (int) $match[1], 'bytes' => $body === false ? 0 : strlen($body)]);

    $job = $steps->property('uws', UWS, 'job');
    emit('getJob', ['job_id' => text($job->jobId), 'phase' => text($job->phase)]);

    $requested = gmdate('Y-m-d\TH:i:s\Z', time() + 2 * 3600);
    $reply = $steps->call('SetTerminationTime', ['RequestedTerminationTime' => $requested]);
    $new = text($reply->NewTerminationTime);
    $current = text($reply->CurrentTime);
    emit('setTerminationTime', [
        'new_termination_time' => $new,
        'current_time' => $current,
        'in_future' => new DateTimeImmutable($new) > new DateTimeImmutable($current),
    ]);

    $steps->call('Destroy', []);
    emit('destroy');

    try {
        $steps->call('GetResourceProperty', property_request('uwscore', CORE, 'Phase'));
        throw new CheckFailed('GetResourceProperty after Destroy answered without a fault');
    } catch (SoapFault $fault) {
        [$name, $code] = $steps->faultOf($fault);
        emit('afterDestroy', ['fault' => $name, 'faultcode' => $code]);
    }

    $steps->detach();
    try {
        $steps->call('createJob', ['job' => ['steps' => 0, 'stepSeconds' => '0.1']]);
        throw new CheckFailed('createJob with <steps>0</steps> answered without a fault');
    } catch (SoapFault $fault) {
        [$name, $code] = $steps->faultOf($fault);
        emit('invalidJdl', ['fault' => $name, 'faultcode' => $code]);
    }
}

function adql_scenario(Session $adql): void
{
    // adql:query has simple content (and a defaulted attribute): a plain string will do.
    $job = ['job' => ['query' => QUERY, 'format' => 'TABLEDATA']];
    $resourceId = $adql->attach($adql->call('createJob', $job));
    emit('adqlCreate', ['resource_id' => $resourceId]);

    $phase = text($adql->call('startJob', [])->Phase);
    check(in_array($phase, PHASES, true), "startJob answered '$phase'");
    [$phase, $polls] = $adql->wait();
    emit('adqlRun', ['phase' => $phase, 'polls' => $polls]);

    $reply = $adql->call('exposeRows', ['start' => 5, 'end' => 10]);
    $exposed = $reply->exposedRows;
    // No schema the WSDL imports declares the VOTable: SoapClient hands its XML as text.
    check(is_string($exposed->any ?? null), 'exposedRows holds no VOTable XML');
    $doc = new DOMDocument();
    check(@$doc->loadXML($exposed->any, LIBXML_NONET) !== false, 'the VOTable is not XML');
    $xpath = new DOMXPath($doc);
    $xpath->registerNamespace('v', VOTABLE);
    $values = [];
    foreach ($xpath->query('/v:VOTABLE//v:TABLEDATA/v:TR') as $row) {
        $values[] = (int) $xpath->evaluate('string(v:TD[1])', $row);
    }
    emit('exposeRows', ['rows' => (int) $reply->rows, 'start' => (int) $exposed->start,
                        'end' => (int) $exposed->end, 'values' => $values]);

    $adql->call('Destroy', []);
    emit('adqlDestroy');
}

if ($argc !== 3) {
    fwrite(STDERR, "usage: php php_client.php STEPS_ENDPOINT ADQL_ENDPOINT\n");
    exit(2);
}
try {
    $steps = new Session(rtrim($argv[1], '/'));
    steps_scenario($steps);
    $adql = new Session(rtrim($argv[2], '/'));
    adql_scenario($adql);
    emit('done', ['relates_to_checked' => true, 'replies' => $steps->replies + $adql->replies]);
} catch (Throwable $error) {
    $line = ['stack' => 'php', 'step' => 'error', 'ok' => false,
             'error' => get_class($error) . ': ' . $error->getMessage()];
    echo json_encode($line, JSON_UNESCAPED_SLASHES), "\n";
    exit(1);
}
exit(0);
