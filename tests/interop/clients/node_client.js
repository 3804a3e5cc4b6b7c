// Interoperability client on node-soap ("soap" on npm, installed by
// tests/interop/setup.sh into tests/interop/node/).
//
// Usage: node node_client.js ENDPOINT   (e.g. http://127.0.0.1:8080/uws/steps)
//
// Drives one `steps` job through its whole life from the WSDL published at
// ENDPOINT?wsdl and prints one JSON object per line per step (see
// tests/interop/README.md). Exits 0 only when every check passed.
//
// What node-soap needs (details in tests/interop/README.md):
// - No WS-Addressing support: one client.addSoapHeader(fn) whose function is evaluated
//   for every request; node-soap passes it the location and the binding's soapAction,
//   which is the operation's wsam:Action. It returns the headers as raw XML strings.
// - Header style of this client: wsa:IsReferenceParameter="true", urn:uuid: MessageIDs.
// - GetResourceProperty (xs:QName content) goes through the typed method; the QName's
//   prefix is declared with node-soap's `attributes` key on the element itself. (node-soap
//   also copies every xmlns of the WSDL definitions onto the Envelope, so uwscore happens
//   to be in scope anyway; uws is not.)
// - Parsed replies and faults lose namespaces (keys are local names), so the fault
//   detail's namespace and wsa:RelatesTo are checked on the raw XML with `sax`.

'use strict';

const crypto = require('node:crypto');
const path = require('node:path');
const { createRequire } = require('node:module');

// Resolve packages from tests/interop/node (where package.json pins them).
const requireInterop = createRequire(path.join(__dirname, '..', 'node', 'package.json'));
const soap = requireInterop('soap');
const sax = requireInterop('sax');

const WSA = 'http://www.w3.org/2005/08/addressing';
const SOAP_ENV = 'http://schemas.xmlsoap.org/soap/envelope/';
const CORE = 'urn:wsrf-uws:core:v1';
const UWS = 'http://www.ivoa.net/xml/UWS/v1.0';
const R = 'http://docs.oasis-open.org/wsrf/r-2';
const PHASES = new Set(['PENDING', 'QUEUED', 'EXECUTING', 'COMPLETED', 'ERROR', 'ABORTED',
  'UNKNOWN', 'HELD', 'SUSPENDED', 'ARCHIVED']);

class CheckFailed extends Error {}

function emit(step, fields = {}) {
  process.stdout.write(JSON.stringify({ stack: 'node', step, ok: true, ...fields }) + '\n');
}

function check(condition, message) {
  if (!condition) throw new CheckFailed(message);
}

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');

/** The text of a simple-content value: node-soap gives a string or {$value, attributes}. */
function text(value) {
  if (value !== null && typeof value === 'object' && '$value' in value) return String(value.$value);
  return value === undefined || value === null ? '' : String(value);
}

/**
 * The first element of `xml` at `steps` from the root, each step [namespace, local name]
 * ('*' matches anything), as {uri, local, text}; null if there is none.
 */
function findElement(xml, steps) {
  const parser = sax.parser(true, { xmlns: true });
  const stack = [];
  let found = null;
  let depth = 0;
  const matches = () => stack.length === steps.length && stack.every((node, i) => {
    const [uri, local] = steps[i];
    return (uri === '*' || uri === node.uri) && (local === '*' || local === node.local);
  });
  parser.onopentag = (node) => {
    stack.push(node);
    if (found === null && matches()) {
      found = { uri: node.uri, local: node.local, text: '' };
      depth = stack.length;
    }
  };
  parser.ontext = (t) => { if (depth && depth === stack.length) found.text += t; };
  parser.onclosetag = () => {
    if (depth === stack.length) depth = 0;
    stack.pop();
  };
  parser.write(xml).close();
  return found;
}

class Session {
  constructor(client) {
    this.client = client;
    this.resourceId = null;
    this.messageId = '';
    // Evaluated for every request: node-soap passes (method, location, soapAction, args).
    client.addSoapHeader((method, location, soapAction) => {
      this.messageId = `urn:uuid:${crypto.randomUUID()}`;
      let xml = `<wsa:To xmlns:wsa="${WSA}">${esc(location)}</wsa:To>`
        + `<wsa:Action xmlns:wsa="${WSA}">${esc(soapAction)}</wsa:Action>`
        + `<wsa:MessageID xmlns:wsa="${WSA}">${this.messageId}</wsa:MessageID>`;
      if (this.resourceId !== null) {
        xml += `<uwscore:ResourceId xmlns:uwscore="${CORE}" xmlns:wsa="${WSA}"`
          + ` wsa:IsReferenceParameter="true">${esc(this.resourceId)}</uwscore:ResourceId>`;
      }
      return xml;
    });
  }

  checkRelatesTo(rawReply) {
    const relates = findElement(rawReply, [[SOAP_ENV, 'Envelope'], [SOAP_ENV, 'Header'], [WSA, 'RelatesTo']]);
    check(relates !== null, 'the reply carries no wsa:RelatesTo');
    check(relates.text.trim() === this.messageId,
      `wsa:RelatesTo '${relates.text}' is not '${this.messageId}'`);
  }

  /** Call the typed method `operation`; check the reply's wsa:RelatesTo. */
  async call(operation, args) {
    const [result, rawReply] = await this.client[`${operation}Async`](args);
    this.checkRelatesTo(rawReply);
    return result;
  }
}

/** GetResourceProperty's argument: the QName, its prefix declared on the element. */
const propertyName = (prefix, namespace, local) => ({
  attributes: { [`xmlns:${prefix}`]: namespace },
  $value: `${prefix}:${local}`,
});

async function run(endpoint) {
  const client = await soap.createClientAsync(`${endpoint}?wsdl`);
  const session = new Session(client);
  const description = client.describe();
  const service = Object.values(description)[0];
  const operations = Object.keys(Object.values(service)[0]).sort();
  emit('wsdl', {
    version: requireInterop('soap/package.json').version,
    node: process.version,
    operations,
    header_style: { is_reference_parameter: 'true', must_understand: [], message_id: 'urn:uuid:' },
  });

  const created = await session.call('createJob', { job: { steps: 2, stepSeconds: '0.1' } });
  const epr = created.EndpointReference;
  const resourceId = text(epr.ReferenceParameters && epr.ReferenceParameters.ResourceId);
  check(resourceId !== '', 'the EPR holds no uwscore:ResourceId');
  const address = text(epr.Address);
  client.setEndpoint(address);
  session.resourceId = resourceId;
  emit('createJob', { resource_id: resourceId, address });

  let phase = text((await session.call('startJob', {})).Phase);
  check(PHASES.has(phase), `startJob answered '${phase}'`);
  emit('startJob', { phase });

  const phaseReply = await session.call('GetResourceProperty', propertyName('uwscore', CORE, 'Phase'));
  phase = text(phaseReply && phaseReply.Phase);
  check(PHASES.has(phase), `uwscore:Phase is '${phase}'`);
  emit('getPhase', { phase });

  const jobReply = await session.call('GetResourceProperty', propertyName('uws', UWS, 'job'));
  check(jobReply && jobReply.job, 'GetResourceProperty uws:job answered no uws:job');
  const jobId = text(jobReply.job.jobId);
  const jobPhase = text(jobReply.job.phase);
  check(jobId === resourceId, `uws:job jobId '${jobId}' is not '${resourceId}'`);
  check(PHASES.has(jobPhase), `uws:job phase is '${jobPhase}'`);
  emit('getJob', { job_id: jobId, phase: jobPhase });

  const lifetime = await session.call('SetTerminationTime', { RequestedLifetimeDuration: 'PT2H' });
  // node-soap turns xs:dateTime into a Date (millisecond precision).
  const newTime = new Date(lifetime.NewTerminationTime);
  const currentTime = new Date(lifetime.CurrentTime);
  check(!Number.isNaN(newTime.getTime()), `NewTerminationTime is ${lifetime.NewTerminationTime}`);
  check(newTime > new Date(), `NewTerminationTime ${newTime.toISOString()} is not in the future`);
  check(newTime > currentTime, 'NewTerminationTime is not after CurrentTime');
  emit('setTerminationTime', {
    new_termination_time: newTime.toISOString(),
    current_time: currentTime.toISOString(),
    in_future: true,
  });

  await session.call('Destroy', {});
  emit('destroy');

  let fault = null;
  try {
    await session.call('GetResourceProperty', propertyName('uwscore', CORE, 'Phase'));
  } catch (error) {
    if (error instanceof CheckFailed || typeof error.body !== 'string') throw error;
    fault = error;
  }
  check(fault !== null, 'GetResourceProperty after Destroy answered without a fault');
  const parsed = fault.root && fault.root.Envelope && fault.root.Envelope.Body.Fault;
  check(parsed && parsed.detail && parsed.detail.ResourceUnknownFault,
    `the parsed fault lacks detail.ResourceUnknownFault: ${fault.message}`);
  const detail = findElement(fault.body,
    [[SOAP_ENV, 'Envelope'], [SOAP_ENV, 'Body'], [SOAP_ENV, 'Fault'], ['', 'detail'], ['*', '*']]);
  check(detail !== null, 'the fault has no detail element');
  const qname = `{${detail.uri}}${detail.local}`;
  check(qname === `{${R}}ResourceUnknownFault`, `the fault detail holds ${qname}`);
  session.checkRelatesTo(fault.body);
  emit('afterDestroy', { fault: qname, faultcode: text(parsed.faultcode) });
  emit('done');
}

if (process.argv.length !== 3) {
  process.stderr.write('usage: node node_client.js ENDPOINT\n');
  process.exit(2);
}
run(process.argv[2].replace(/\/+$/, '')).then(
  () => process.exit(0),
  (error) => {
    const message = error instanceof CheckFailed ? error.message : String(error && error.stack || error);
    process.stdout.write(JSON.stringify({ stack: 'node', step: 'error', ok: false, error: message }) + '\n');
    process.exit(1);
  },
);
