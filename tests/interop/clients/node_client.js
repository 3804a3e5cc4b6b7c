// Interoperability client on node-soap ("soap" on npm, installed by
// tests/interop/setup.sh into tests/interop/node/).
//
// Usage: node node_client.js STEPS_ENDPOINT ADQL_ENDPOINT
//        (e.g. http://127.0.0.1:8080/uws/steps http://127.0.0.1:8080/uws/adql)
//
// Runs the interop scenario (tests/interop/README.md) from the WSDLs published at
// ENDPOINT?wsdl and prints one JSON object per line per step. Exits 0 only when every
// check passed.
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
//   Attributes keep their *prefixed* name (`attributes['xlink:href']`), whatever prefix
//   the server chose, so the Result links are read from the raw reply too.
// - A JavaScript Date given as an xs:dateTime argument is written as empty content:
//   pass `date.toISOString()`. Replies' xs:dateTime values do come back as Dates.
// - Result downloads use Node's own fetch.

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
const XLINK = 'http://www.w3.org/1999/xlink';
const FINAL = new Set(['COMPLETED', 'ERROR', 'ABORTED', 'ARCHIVED']);
const PHASES = new Set([...FINAL, 'PENDING', 'QUEUED', 'EXECUTING', 'UNKNOWN', 'HELD', 'SUSPENDED']);
const QUERY = 'SELECT TOP 20 hip, hpmag FROM hipparcos.main ORDER BY hip';
const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

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

/** Every element {uri}local of `xml`, as {'{ns}name': value} of its attributes. */
function findAll(xml, uri, local) {
  const parser = sax.parser(true, { xmlns: true });
  const found = [];
  parser.onopentag = (node) => {
    if (node.uri !== uri || node.local !== local) return;
    const attributes = {};
    for (const attribute of Object.values(node.attributes)) {
      attributes[`{${attribute.uri}}${attribute.local}`] = attribute.value;
    }
    found.push(attributes);
  };
  parser.write(xml).close();
  return found;
}

class Session {
  constructor(client, endpoint) {
    this.client = client;
    this.endpoint = endpoint;
    this.resourceId = null;
    this.messageId = '';
    this.replies = 0;
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
    this.replies += 1;
  }

  /** The parsed reply and its raw XML; the reply's wsa:RelatesTo checked, faults too. */
  async callRaw(operation, args) {
    let reply;
    try {
      reply = await this.client[`${operation}Async`](args);
    } catch (error) {
      if (typeof error.body === 'string') this.checkRelatesTo(error.body);
      throw error;
    }
    const [result, rawReply] = reply;
    this.checkRelatesTo(rawReply);
    return [result, rawReply];
  }

  /** Call the typed method `operation`; check the reply's wsa:RelatesTo. */
  async call(operation, args) {
    return (await this.callRaw(operation, args))[0];
  }

  /** Take the ResourceId and Address of a createJob reply for the later calls. */
  attach(reply) {
    // node-soap returns the wrapper's content: {EndpointReference: {Address, ...}}.
    const epr = reply && reply.EndpointReference;
    check(epr && epr.Address, `createJob answered no EndpointReference: ${JSON.stringify(reply)}`);
    const resourceId = text(epr.ReferenceParameters && epr.ReferenceParameters.ResourceId);
    check(resourceId !== '', 'the EPR holds no uwscore:ResourceId');
    this.address = text(epr.Address);
    this.client.setEndpoint(this.address);
    this.resourceId = resourceId;
    return resourceId;
  }

  detach() {
    this.client.setEndpoint(this.endpoint);
    this.resourceId = null;
  }

  async phase() {
    const reply = await this.call('GetResourceProperty', propertyName('uwscore', CORE, 'Phase'));
    const phase = text(reply && reply.Phase);
    check(PHASES.has(phase), `uwscore:Phase is '${phase}'`);
    return phase;
  }

  /** Poll the Phase until it is final; [phase, polls]. */
  async wait() {
    const deadline = Date.now() + 60000;
    for (let polls = 1; ; polls += 1) {
      const phase = await this.phase();
      if (FINAL.has(phase)) return [phase, polls];
      check(Date.now() < deadline, `still ${phase} after 60 s`);
      await sleep(150);
    }
  }

  /** [{ns}local of the fault's detail element, faultcode] of a call that must fault. */
  async fault(operation, args, what) {
    let fault = null;
    try {
      await this.call(operation, args);
    } catch (error) {
      if (error instanceof CheckFailed || typeof error.body !== 'string') throw error;
      fault = error;
    }
    check(fault !== null, `${what} answered without a fault`);
    const parsed = fault.root && fault.root.Envelope && fault.root.Envelope.Body.Fault;
    check(parsed && parsed.detail, `the parsed fault has no detail: ${fault.message}`);
    const detail = findElement(fault.body,
      [[SOAP_ENV, 'Envelope'], [SOAP_ENV, 'Body'], [SOAP_ENV, 'Fault'], ['', 'detail'], ['*', '*']]);
    check(detail !== null, 'the fault has no detail element');
    check(parsed.detail[detail.local], `the parsed fault's detail lacks ${detail.local}`);
    return [`{${detail.uri}}${detail.local}`, text(parsed.faultcode)];
  }
}

/** GetResourceProperty's argument: the QName, its prefix declared on the element. */
const propertyName = (prefix, namespace, local) => ({
  attributes: { [`xmlns:${prefix}`]: namespace },
  $value: `${prefix}:${local}`,
});

const asList = (value) => {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
};

async function stepsScenario(endpoint) {
  const client = await soap.createClientAsync(`${endpoint}?wsdl`);
  const steps = new Session(client, endpoint);
  const description = client.describe();
  const service = Object.values(description)[0];
  const operations = Object.keys(Object.values(service)[0]).sort();
  emit('wsdl', {
    version: requireInterop('soap/package.json').version,
    node: process.version,
    operations,
    header_style: { is_reference_parameter: 'true', must_understand: [], message_id: 'urn:uuid:' },
  });

  const resourceId = steps.attach(
    await steps.call('createJob', { job: { steps: 2, stepSeconds: '0.1' } }),
  );
  emit('createJob', { resource_id: resourceId, address: steps.address });

  emit('startJob', { phase: text((await steps.call('startJob', {})).Phase) });

  const [phase, polls] = await steps.wait();
  emit('waitCompleted', { phase, polls });

  const [stateReply, stateXml] = await steps.callRaw('GetResourceProperty',
    propertyName('uwscore', CORE, 'JobState'));
  const state = stateReply && stateReply.JobState;
  check(state, 'GetResourceProperty uwscore:JobState answered no JobState');
  // The links by namespace, from the raw reply (the parsed keys carry the server's prefix).
  const results = findAll(stateXml, CORE, 'Result').map((attributes) => ({
    name: attributes['{}name'],
    href: attributes[`{${XLINK}}href`],
    size: attributes['{}size'] === undefined ? null : Number(attributes['{}size']),
  }));
  check(results.length === asList(state.Result).length,
    `the raw reply holds ${results.length} Result(s), the parsed one ${asList(state.Result).length}`);
  check(results.length > 0, 'JobState lists no result');
  emit('jobState', { phase: text(state.Phase), results });

  const result = results[0];
  const response = await fetch(result.href);
  const body = Buffer.from(await response.arrayBuffer());
  emit('download', { name: result.name, href: result.href, status: response.status, bytes: body.length });

  const jobReply = await steps.call('GetResourceProperty', propertyName('uws', UWS, 'job'));
  check(jobReply && jobReply.job, 'GetResourceProperty uws:job answered no uws:job');
  emit('getJob', { job_id: text(jobReply.job.jobId), phase: text(jobReply.job.phase) });

  // A Date argument would be written as empty content: an ISO string it is.
  const requested = new Date(Date.now() + 2 * 3600 * 1000).toISOString();
  const lifetime = await steps.call('SetTerminationTime', { RequestedTerminationTime: requested });
  // node-soap turns xs:dateTime into a Date (millisecond precision).
  const newTime = new Date(lifetime.NewTerminationTime);
  const currentTime = new Date(lifetime.CurrentTime);
  check(!Number.isNaN(newTime.getTime()), `NewTerminationTime is ${lifetime.NewTerminationTime}`);
  emit('setTerminationTime', {
    new_termination_time: newTime.toISOString(),
    current_time: currentTime.toISOString(),
    in_future: newTime > currentTime,
  });

  await steps.call('Destroy', {});
  emit('destroy');

  let [fault, faultcode] = await steps.fault('GetResourceProperty',
    propertyName('uwscore', CORE, 'Phase'), 'GetResourceProperty after Destroy');
  emit('afterDestroy', { fault, faultcode });

  steps.detach();
  [fault, faultcode] = await steps.fault('createJob', { job: { steps: 0, stepSeconds: '0.1' } },
    'createJob with <steps>0</steps>');
  emit('invalidJdl', { fault, faultcode });
  return steps.replies;
}

async function adqlScenario(endpoint) {
  const client = await soap.createClientAsync(`${endpoint}?wsdl`);
  const adql = new Session(client, endpoint);
  const resourceId = adql.attach(
    await adql.call('createJob', { job: { query: QUERY, format: 'TABLEDATA' } }),
  );
  emit('adqlCreate', { resource_id: resourceId });

  const started = text((await adql.call('startJob', {})).Phase);
  check(PHASES.has(started), `startJob answered '${started}'`);
  const [phase, polls] = await adql.wait();
  emit('adqlRun', { phase, polls });

  const reply = await adql.call('exposeRows', { start: 5, end: 10 });
  const exposed = reply && reply.exposedRows;
  check(exposed && exposed.VOTABLE, `exposedRows holds no VOTABLE: ${JSON.stringify(reply)}`);
  // The VOTable is xs:any content, parsed by local names; a single child is not a list.
  const table = exposed.VOTABLE.RESOURCE.TABLE;
  const values = asList(table.DATA.TABLEDATA.TR).map((row) => Number(text(asList(row.TD)[0])));
  emit('exposeRows', {
    rows: Number(reply.rows),
    start: Number(exposed.attributes.start),
    end: Number(exposed.attributes.end),
    values,
  });

  await adql.call('Destroy', {});
  emit('adqlDestroy');
  return adql.replies;
}

async function run(stepsEndpoint, adqlEndpoint) {
  const replies = (await stepsScenario(stepsEndpoint)) + (await adqlScenario(adqlEndpoint));
  emit('done', { relates_to_checked: true, replies });
}

if (process.argv.length !== 4) {
  process.stderr.write('usage: node node_client.js STEPS_ENDPOINT ADQL_ENDPOINT\n');
  process.exit(2);
}
const [stepsEndpoint, adqlEndpoint] = process.argv.slice(2).map((url) => url.replace(/\/+$/, ''));
run(stepsEndpoint, adqlEndpoint).then(
  () => process.exit(0),
  (error) => {
    const message = error instanceof CheckFailed ? error.message : String(error && error.stack || error);
    process.stdout.write(JSON.stringify({ stack: 'node', step: 'error', ok: false, error: message }) + '\n');
    process.exit(1);
  },
);
