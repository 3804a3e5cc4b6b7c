<?php
// Interoperability client on PHP's SoapClient (ext-soap).
//
// Usage: php php_client.php ENDPOINT   (e.g. http://127.0.0.1:8080/uws/steps)
//
// Drives one `steps` job through its whole life from the WSDL published at
// ENDPOINT?wsdl and prints one JSON object per line per step (see
// tests/interop/README.md). Exits 0 only when every check passed.
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

declare(strict_types=1);

const WSA = 'http://www.w3.org/2005/08/addressing';
const WSAM = 'http://www.w3.org/2007/05/addressing/metadata';
const WSDL_NS = 'http://schemas.xmlsoap.org/wsdl/';
const SOAP_ENV = 'http://schemas.xmlsoap.org/soap/envelope/';
const CORE = 'urn:wsrf-uws:core:v1';
const UWS = 'http://www.ivoa.net/xml/UWS/v1.0';
const RP = 'http://docs.oasis-open.org/wsrf/rp-2';
const R = 'http://docs.oasis-open.org/wsrf/r-2';
const PHASES = ['PENDING', 'QUEUED', 'EXECUTING', 'COMPLETED', 'ERROR', 'ABORTED',
                'UNKNOWN', 'HELD', 'SUSPENDED', 'ARCHIVED'];

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
    private string $messageId = '';

    public function __construct(string $endpoint)
    {
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
            $xml = '<uws-core:ResourceId xmlns:uws-core="' . CORE . '" xmlns:wsa="' . WSA
                 . '" wsa:IsReferenceParameter="true">' . xml_escape($this->resourceId)
                 . '</uws-core:ResourceId>';
            $headers[] = new SoapHeader(CORE, 'ResourceId', new SoapVar($xml, XSD_ANYXML));
        }
        return $headers;
    }

    /** Call $operation with fresh WS-A headers; check the reply's wsa:RelatesTo. */
    public function call(string $operation, $parameters)
    {
        $this->client->__setLocation($this->address);
        $result = $this->client->__soapCall($operation, [$parameters], null,
                                            $this->headers($operation));
        $this->checkRelatesTo();
        return $result;
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
    }
}

/** GetResourceProperty's body: raw XML, so that the QName's prefix is declared on it. */
function property_request(string $prefix, string $namespace, string $local): SoapVar
{
    // SoapClient serializes xs:QName content as text without declaring the prefix.
    $xml = '<wsrf-rp:GetResourceProperty xmlns:wsrf-rp="' . RP . '" xmlns:' . $prefix . '="'
         . $namespace . '">' . $prefix . ':' . $local . '</wsrf-rp:GetResourceProperty>';
    return new SoapVar($xml, XSD_ANYXML);
}

function run(string $endpoint): void
{
    $session = new Session($endpoint);
    $operations = array_keys($session->actions);
    sort($operations);
    emit('wsdl', ['version' => PHP_VERSION, 'operations' => $operations, 'header_style' => [
        'is_reference_parameter' => 'true', 'must_understand' => ['To', 'Action'],
        'message_id' => 'uuid:',
    ]]);

    $reply = $session->call('createJob', ['job' => ['steps' => 2, 'stepSeconds' => '0.1']]);
    $epr = $reply->EndpointReference;
    $any = $epr->ReferenceParameters->any ?? [];
    check(is_array($any) && isset($any['ResourceId']), 'the EPR holds no uws-core:ResourceId');
    $resourceId = text($any['ResourceId']);
    check($resourceId !== '', 'the uws-core:ResourceId is empty');
    $session->address = text($epr->Address);
    $session->resourceId = $resourceId;
    emit('createJob', ['resource_id' => $resourceId, 'address' => $session->address]);

    $phase = text($session->call('startJob', [])->Phase);
    check(in_array($phase, PHASES, true), "startJob answered '$phase'");
    emit('startJob', ['phase' => $phase]);

    $reply = $session->call('GetResourceProperty', property_request('uws-core', CORE, 'Phase'));
    $phase = text($reply->any['Phase'] ?? '');
    check(in_array($phase, PHASES, true), "uws-core:Phase is '$phase'");
    emit('getPhase', ['phase' => $phase]);

    $reply = $session->call('GetResourceProperty', property_request('uws', UWS, 'job'));
    check(isset($reply->any['job']), 'GetResourceProperty uws:job answered no uws:job');
    $job = $reply->any['job'];
    $jobId = text($job->jobId);
    $jobPhase = text($job->phase);
    check($jobId === $resourceId, "uws:job jobId '$jobId' is not '$resourceId'");
    check(in_array($jobPhase, PHASES, true), "uws:job phase is '$jobPhase'");
    emit('getJob', ['job_id' => $jobId, 'phase' => $jobPhase]);

    $reply = $session->call('SetTerminationTime', ['RequestedLifetimeDuration' => 'PT2H']);
    $new = new DateTimeImmutable(text($reply->NewTerminationTime));
    $current = new DateTimeImmutable(text($reply->CurrentTime));
    $now = new DateTimeImmutable('now', new DateTimeZone('UTC'));
    check($new > $now, 'NewTerminationTime ' . text($reply->NewTerminationTime) . ' is not in the future');
    check($new > $current, 'NewTerminationTime is not after CurrentTime');
    emit('setTerminationTime', [
        'new_termination_time' => text($reply->NewTerminationTime),
        'current_time' => text($reply->CurrentTime),
        'in_future' => true,
    ]);

    $session->call('Destroy', []);
    emit('destroy');

    try {
        $session->call('GetResourceProperty', property_request('uws-core', CORE, 'Phase'));
    } catch (SoapFault $fault) {
        $xpath = $session->lastReply();
        $detail = $xpath->query('/soap:Envelope/soap:Body/soap:Fault/detail/*')->item(0);
        check($detail instanceof DOMElement, 'the fault has no detail element');
        $qname = '{' . $detail->namespaceURI . '}' . $detail->localName;
        check($qname === '{' . R . '}ResourceUnknownFault', "the fault detail holds $qname");
        check(isset($fault->detail->ResourceUnknownFault), 'SoapFault->detail lacks ResourceUnknownFault');
        $session->checkRelatesTo();
        emit('afterDestroy', ['fault' => $qname, 'faultcode' => $fault->faultcode]);
        emit('done');
        return;
    }
    throw new CheckFailed('GetResourceProperty after Destroy answered without a fault');
}

if ($argc !== 2) {
    fwrite(STDERR, "usage: php php_client.php ENDPOINT\n");
    exit(2);
}
try {
    run(rtrim($argv[1], '/'));
} catch (Throwable $error) {
    $line = ['stack' => 'php', 'step' => 'error', 'ok' => false,
             'error' => get_class($error) . ': ' . $error->getMessage()];
    echo json_encode($line, JSON_UNESCAPED_SLASHES), "\n";
    exit(1);
}
exit(0);
