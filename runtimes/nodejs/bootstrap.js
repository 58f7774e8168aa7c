'use strict';
/*
 * Inlet's Node.js bootstrap: a client of the Lambda Runtime API (2018-06-01).
 *
 * Inlet starts this file as `node bootstrap.js` with the working directory and environment set the way Lambda
 * sets them (AWS_LAMBDA_RUNTIME_API, _HANDLER, LAMBDA_TASK_ROOT, ...). It loads the user's handler once, then
 * loops: fetch the next event, run the handler, post its result or error. It runs unmodified Node handlers with
 * the semantics of the classic callback-supporting Node.js runtime: callback, returned promises, the legacy
 * context.succeed/fail/done, and callbackWaitsForEmptyEventLoop.
 *
 * Plain CommonJS and Node built-ins only, so Inlet can ship it as a single file next to any Node 20/22.
 * Written for Inlet from the public Runtime API description; no code is taken from other runtime clients.
 */

const net = require('net');
const fs = require('fs');
const path = require('path');
const util = require('util');
const { pathToFileURL } = require('url');

const API_VERSION = '2018-06-01';

// ---------------------------------------------------------------------------------------------------------------
// Logging
// ---------------------------------------------------------------------------------------------------------------

// The request id stamped on log records; `undefined` outside an invocation, as Lambda prints it.
let logRequestId;

function writeRecord(stream, level, message) {
  // One write per record keeps a record contiguous even when stdout and stderr are read by the host line by line.
  stream.write(`${new Date().toISOString()}\t${logRequestId}\t${level}\t${message}\n`);
}

function installConsole() {
  const levels = [
    ['log', 'INFO', 'stdout'],
    ['info', 'INFO', 'stdout'],
    ['debug', 'DEBUG', 'stdout'],
    ['trace', 'TRACE', 'stdout'],
    ['warn', 'WARN', 'stderr'],
    ['error', 'ERROR', 'stderr'],
  ];
  for (const [method, level, streamName] of levels) {
    // The stream is looked up on every call rather than captured, so a user who swaps process.stdout.write still
    // sees our records go through it (console itself behaves the same way).
    console[method] = function (...args) {
      writeRecord(process[streamName], level, util.format(...args));
    };
  }
}

// Inlet reads stdout and stderr line by line and frames each invocation with END and REPORT lines: when an answer
// arrives, it logs whatever is in the pipes before END. Writes to a pipe are synchronous on Linux, so a line printed
// before the answer is there — unless the pipe was full and Node is still holding the rest. Before every answer (and
// before the first /next) we wait until neither stream holds anything back.
function flushOutput() {
  // Nothing held back, the usual case: no promise to wait for.
  if (!process.stdout.writableLength && !process.stderr.writableLength) return null;
  return Promise.all([process.stdout, process.stderr].map((stream) => new Promise((resolve) => {
    if (!stream.writableLength || stream.destroyed) {
      resolve();
      return;
    }
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  })));
}

// Messages from the bootstrap itself; they never go through `console`, which user code may have replaced again.
function runtimeLog(level, message) {
  writeRecord(level === 'ERROR' || level === 'WARN' ? process.stderr : process.stdout, level, message);
}

// ---------------------------------------------------------------------------------------------------------------
// Error bodies
// ---------------------------------------------------------------------------------------------------------------

function isErrorLike(value) {
  if (value instanceof Error || util.types.isNativeError(value)) return true;
  // Errors from other realms (vm contexts) or hand-made error objects still carry the three fields Lambda reports.
  return value !== null && typeof value === 'object'
    && typeof value.name === 'string' && typeof value.message === 'string' && typeof value.stack === 'string';
}

function errorTypeOf(err) {
  const name = err.name;
  const ctorName = err.constructor && typeof err.constructor.name === 'string' ? err.constructor.name : undefined;
  // `class NotFound extends Error {}` leaves name as 'Error'; the class name is what the author meant.
  if ((name === undefined || name === 'Error') && ctorName && ctorName !== 'Error' && ctorName !== 'Object') {
    return ctorName;
  }
  return name === undefined || name === null ? 'Error' : String(name);
}

function safeString(value) {
  try {
    return String(value);
  } catch {
    // Object.create(null) and friends have no toString.
    return util.inspect(value);
  }
}

/** The {errorType, errorMessage, trace} body the Runtime API expects, for anything a handler can throw. */
function errorBody(err) {
  try {
    if (isErrorLike(err)) {
      const stack = typeof err.stack === 'string' ? err.stack : '';
      return {
        errorType: errorTypeOf(err),
        errorMessage: err.message === undefined || err.message === null ? '' : String(err.message),
        trace: stack === '' ? [] : stack.split(/\r?\n/),
      };
    }
    if (err === undefined || err === null) {
      // Only context.fail() / context.fail(null) get here: callback(null) and done(null) are successes.
      return { errorType: 'Error', errorMessage: 'context.fail() was called without an error', trace: [] };
    }
    // throw "oops" / callback("boom"): Lambda reports the JavaScript type and the value itself.
    return { errorType: typeof err, errorMessage: safeString(err), trace: [] };
  } catch {
    // A getter on the thrown object threw; report something rather than lose the failure.
    return { errorType: 'Error', errorMessage: 'The handler failed with a value that could not be read', trace: [] };
  }
}

/** A header value must be printable ASCII (a line break would end the header); error names are user-controlled. */
function headerSafe(value) {
  return String(value).replace(/[^\x20-\x7e]/g, '?');
}

// ---------------------------------------------------------------------------------------------------------------
// Runtime API transport
// ---------------------------------------------------------------------------------------------------------------

function parseApiAddress(value) {
  if (!value) {
    throw new Error('AWS_LAMBDA_RUNTIME_API is not set; this file is meant to be started by Inlet');
  }
  const parsed = new URL(`http://${value}`);
  return {
    // URL keeps IPv6 literals in brackets; net.connect wants them bare, the Host header keeps them.
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: parsed.port ? Number(parsed.port) : 80,
    hostHeader: parsed.host,
  };
}

let apiAddress;

// The Runtime API is Inlet's own HTTP/1.1 endpoint on loopback, and the bootstrap asks it one small thing at a
// time, so this is a minimal client over a socket: it costs half the CPU of http.request per invocation (no agent,
// no streams, no header objects), as the AWS runtime clients use native code for the same reason. One keep-alive
// connection serves the whole /next → /response loop; a second is opened only if two requests ever overlap. An
// answer and the following /next go out together, pipelined (RFC 9112 §9.3): one write and one wake-up on each side
// where there were two, and the host still sees them in order, on one connection. An idle connection is unref'd,
// so it never holds the event loop open; that matters because "the event loop is empty" is how we decide when a
// callback result may be sent (see beforeExit below).
const idleConnections = [];

class ApiConnection {
  constructor() {
    this.socket = net.connect(apiAddress.port, apiAddress.host);
    this.socket.setNoDelay(true);
    this.used = false;
    // The requests sent and not answered yet, oldest first: HTTP/1.1 answers them in that order.
    this.queue = [];
    this.chunks = [];
    this.buffered = 0;
    this.socket.on('data', (data) => this.receive(data));
    this.socket.on('error', (err) => this.fail(err));
    this.socket.on('close', () => this.fail(null));
  }

  /** Sends requests, given as [method, target, payload, headers], in one write; a promise of each one's answer. */
  send(...requests) {
    const buffers = [];
    const answers = requests.map(([method, target, payload, headers]) => new Promise((resolve, reject) => {
      this.queue.push({ method, target, resolve, reject, head: null, length: -1, chunked: false, body: [], received: false });
      let head = `${method} ${target} HTTP/1.1\r\nHost: ${apiAddress.hostHeader}\r\n`;
      for (const name of Object.keys(headers)) head += `${name}: ${headers[name]}\r\n`;
      if (payload !== undefined) head += `Content-Length: ${payload.length}\r\n`;
      head += '\r\n';
      buffers.push(Buffer.from(head, 'latin1'));
      if (payload !== undefined) buffers.push(payload);
    }));
    this.socket.ref();
    this.socket.write(buffers.length === 1 ? buffers[0] : Buffer.concat(buffers));
    return answers;
  }

  receive(data) {
    this.chunks.push(data);
    this.buffered += data.length;
    // One read may finish one answer and begin the next.
    while (this.queue.length > 0 && this.buffered > 0) {
      const request = this.queue[0];
      request.received = true;
      // A large body arrives in many pieces; they are joined once, when the last is here.
      if (request.head !== null && request.length >= 0 && this.buffered < request.length) return;
      try {
        if (!this.parse(request)) return;
      } catch (err) {
        this.socket.destroy();
        this.fail(err);
        return;
      }
    }
  }

  /** Takes what the buffered input completes of the response; resolves the request once its body is whole (true). */
  parse(request) {
    let data = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    while (request.head === null) {
      const end = data.indexOf('\r\n\r\n');
      if (end < 0) {
        this.keep(data);
        return false;
      }
      const lines = data.toString('latin1', 0, end).split('\r\n');
      data = data.subarray(end + 4);
      const status = Number(lines[0].split(' ')[1]);
      // An interim response (100 Continue) is followed by the real one.
      if (status >= 100 && status < 200) continue;
      const headers = {};
      for (let i = 1; i < lines.length; i++) {
        const colon = lines[i].indexOf(':');
        if (colon <= 0) continue;
        const name = lines[i].slice(0, colon).trim().toLowerCase();
        const value = lines[i].slice(colon + 1).trim();
        headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
      }
      request.head = { status, headers };
      request.chunked = /\bchunked\b/i.test(headers['transfer-encoding'] || '');
      request.length = request.chunked ? -1 : headers['content-length'] !== undefined ? Number(headers['content-length']) : -1;
      request.close = /\bclose\b/i.test(headers.connection || '');
      if (!request.chunked && request.length < 0) {
        // No length: the body runs to the end of the connection.
        request.close = true;
      }
    }
    if (request.chunked) {
      for (;;) {
        const lineEnd = data.indexOf('\r\n');
        if (lineEnd < 0) break;
        const size = parseInt(data.toString('latin1', 0, lineEnd), 16);
        if (Number.isNaN(size)) throw new Error('The Runtime API sent a malformed chunked body');
        if (size === 0) {
          // The last chunk, then (no trailers from Inlet) the final CRLF.
          const end = data.indexOf('\r\n\r\n', lineEnd);
          if (end < 0) break;
          this.keep(data.subarray(end + 4));
          this.finish(request);
          return true;
        }
        if (data.length < lineEnd + 2 + size + 2) break;
        request.body.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
        data = data.subarray(lineEnd + 2 + size + 2);
      }
      this.keep(data);
      return false;
    }
    if (request.length >= 0 && data.length >= request.length) {
      request.body.push(data.subarray(0, request.length));
      this.keep(data.subarray(request.length));
      this.finish(request);
      return true;
    }
    if (request.length >= 0) {
      // The body is still arriving: keep what came as it is, and look again once all of it is here.
      this.keep(data);
      return false;
    }
    request.body.push(data);
    this.keep(Buffer.alloc(0));
    return false;
  }

  keep(rest) {
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
  }

  finish(request) {
    this.queue.shift();
    this.used = true;
    const body = request.body.length === 1 ? request.body[0] : Buffer.concat(request.body);
    if (request.close) {
      // Requests pipelined behind this one fail, before any answer: they are sent again.
      this.socket.destroy();
      this.fail(null);
    } else if (this.queue.length === 0) {
      this.socket.unref();
      idleConnections.push(this);
    }
    request.resolve({ status: request.head.status, headers: request.head.headers, body });
  }

  /** The connection ended or broke; the requests waiting on it fail, unless the first one's body simply ran to the end. */
  fail(err) {
    const index = idleConnections.indexOf(this);
    if (index >= 0) idleConnections.splice(index, 1);
    const first = this.queue[0];
    if (!err && first && first.head && first.length < 0 && !first.chunked) {
      this.finish(first);
      return;
    }
    for (const request of this.queue.splice(0)) {
      const failure = err || new Error(`The Runtime API closed the connection during ${request.method} ${request.target}`);
      failure.beforeAnyAnswer = !request.received;
      failure.reusedConnection = this.used;
      request.reject(failure);
    }
  }
}

function apiRequest(method, pathname, body, headers = {}) {
  return apiRequests([[method, pathname, body, headers]])[0];
}

/**
 * Sends requests, given as [method, pathname, body, headers], pipelined on one connection; a promise of each one's
 * answer. No timeout: GET /next long-polls for as long as no mail arrives.
 */
function apiRequests(requests, isRetry = false) {
  const connection = idleConnections.pop() || new ApiConnection();
  const sent = connection.send(...requests.map(([method, pathname, body, headers = {}]) =>
    [method, `/${API_VERSION}${pathname}`, body === undefined ? undefined : Buffer.from(body, 'utf8'), headers]));
  return sent.map((answer, i) => answer.catch((err) => {
    // The host may close an idle keep-alive connection just as we reuse it; a request it never answered never
    // reached it, so one retry on a fresh connection is safe. Those pipelined behind it go along with it.
    if (!isRetry && err.beforeAnyAnswer && (err.reusedConnection || i > 0)) {
      return apiRequests([requests[i]], true)[0];
    }
    throw err;
  }));
}

function expectAccepted(res, what) {
  if (res.status < 200 || res.status > 299) {
    // The host refused what we sent (unknown request id, payload too large, ...). It owns the invocation's
    // state, so we report and carry on with the next event instead of guessing.
    runtimeLog('WARN', `[inlet bootstrap] the Runtime API answered ${res.status} to ${what}: ${res.body.toString('utf8')}`);
  }
}

/**
 * Posts an invocation's answer, once what it printed is out. With `thenNext`, GET /next goes in the same write, and
 * the promise of its answer is returned once the post is accepted; otherwise null.
 */
async function postAnswer(pathname, body, headers, what, thenNext) {
  const flushing = flushOutput();
  if (flushing) await flushing;
  const requests = [['POST', pathname, body, headers]];
  if (thenNext) requests.push(['GET', '/runtime/invocation/next']);
  const [posted, next = null] = apiRequests(requests);
  // Read by the main loop later; a failure meanwhile is not an unhandled rejection.
  if (next) next.catch(() => {});
  expectAccepted(await posted, what);
  return next;
}

async function postInvocationResponse(requestId, result, thenNext = false) {
  let body;
  try {
    // JSON.stringify gives undefined for undefined, functions and symbols: Lambda sends null for those.
    body = JSON.stringify(result);
    if (body === undefined) body = 'null';
  } catch (err) {
    // Circular structures and BigInts cannot be sent; that is the invocation's error, not ours.
    return postInvocationError(requestId, errorBody(err), thenNext);
  }
  return postAnswer(`/runtime/invocation/${encodeURIComponent(requestId)}/response`, body,
    { 'Content-Type': 'application/json' }, 'the invocation response', thenNext);
}

async function postInvocationError(requestId, body, thenNext = false) {
  runtimeLog('ERROR', `Invoke Error \t${JSON.stringify(body)}`);
  return postAnswer(`/runtime/invocation/${encodeURIComponent(requestId)}/error`, JSON.stringify(body), {
    'Content-Type': 'application/json',
    'Lambda-Runtime-Function-Error-Type': headerSafe(body.errorType),
  }, 'the invocation error', thenNext);
}

async function postInitError(body, headerType) {
  runtimeLog('ERROR', `Init Error \t${JSON.stringify(body)}`);
  await flushOutput();
  const res = await apiRequest('POST', '/runtime/init/error', JSON.stringify(body), {
    'Content-Type': 'application/json',
    'Lambda-Runtime-Function-Error-Type': headerSafe(headerType),
  });
  expectAccepted(res, 'the init error');
}

/** The next event: the answer to a GET /next sent already, or to one sent now. */
async function nextInvocation(sent = null) {
  const res = await (sent || apiRequest('GET', '/runtime/invocation/next'));
  if (res.status !== 200) {
    throw new Error(`GET /runtime/invocation/next answered ${res.status}: ${res.body.toString('utf8')}`);
  }
  const h = res.headers;
  const requestId = h['lambda-runtime-aws-request-id'];
  if (!requestId) throw new Error('GET /runtime/invocation/next answered without Lambda-Runtime-Aws-Request-Id');
  return {
    requestId,
    deadlineMs: Number(h['lambda-runtime-deadline-ms']),
    invokedFunctionArn: h['lambda-runtime-invoked-function-arn'],
    traceId: h['lambda-runtime-trace-id'],
    clientContext: h['lambda-runtime-client-context'],
    cognitoIdentity: h['lambda-runtime-cognito-identity'],
    body: res.body,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Process lifetime
// ---------------------------------------------------------------------------------------------------------------

let exiting = false;

/** Exit with `code` once what we wrote to stdout/stderr is flushed (pipes are asynchronous on macOS and Windows). */
function exitAfterFlush(code) {
  exiting = true;
  process.exitCode = code;
  let pending = 2;
  const done = () => {
    if (--pending === 0) process.exit(code);
  };
  for (const stream of [process.stdout, process.stderr]) {
    try {
      stream.write('', done);
    } catch {
      done();
    }
  }
  // If a stream never drains (the host stopped reading), do not hang around for it.
  setTimeout(() => process.exit(code), 2000).unref();
}

/** We lost the Runtime API: nothing useful can happen any more, and the host replaces the process. */
function transportFailure(err) {
  if (exiting) return;
  runtimeLog('ERROR', `[inlet bootstrap] cannot talk to the Runtime API: ${err && err.stack ? err.stack : err}`);
  exitAfterFlush(1);
}

// ---------------------------------------------------------------------------------------------------------------
// Handler loading
// ---------------------------------------------------------------------------------------------------------------

/** A failure during init, with the Runtime.* type that goes in the Lambda-Runtime-Function-Error-Type header. */
class InitFailure extends Error {
  constructor(errorType, errorMessage, trace) {
    super(errorMessage);
    this.body = { errorType, errorMessage, trace: trace || [] };
  }
}

function parseHandlerName(handlerName) {
  const malformed = (why) => new InitFailure('Runtime.MalformedHandlerName',
    `Bad handler ${JSON.stringify(handlerName)}: ${why}`);
  if (!handlerName) throw malformed('_HANDLER is empty; expected <path>/<module>.<function>');
  if (handlerName.split(/[\\/]/).includes('..')) throw malformed('".." is not allowed in handler names');
  const slash = handlerName.lastIndexOf('/');
  const directory = handlerName.slice(0, slash + 1);
  const tail = handlerName.slice(slash + 1);
  // The FIRST dot separates the module from the function path, so `mod.a.b` means require('mod').a.b.
  const dot = tail.indexOf('.');
  if (dot <= 0 || dot === tail.length - 1) throw malformed('expected <module>.<function>');
  const moduleName = tail.slice(0, dot);
  const functionPath = tail.slice(dot + 1).split('.');
  if (functionPath.some((part) => part === '')) throw malformed('empty part in the function path');
  return { directory, moduleName, functionPath };
}

function isFile(candidate) {
  const stat = fs.statSync(candidate, { throwIfNoEntry: false });
  return stat !== undefined && stat.isFile();
}

function resolveModuleFile(taskRoot, directory, moduleName) {
  const base = path.resolve(taskRoot, directory, moduleName);
  const candidates = [
    `${base}.js`, `${base}.mjs`, `${base}.cjs`,
    path.join(base, 'index.js'), path.join(base, 'index.mjs'), path.join(base, 'index.cjs'),
  ];
  return candidates.find(isFile);
}

/** Whether Node would treat `file` as an ES module: .mjs, or .js under a nearest package.json with type=module. */
function isEsModule(file) {
  const ext = path.extname(file);
  if (ext === '.mjs') return true;
  if (ext !== '.js') return false;
  let dir = path.dirname(file);
  for (;;) {
    const pkgFile = path.join(dir, 'package.json');
    if (isFile(pkgFile)) {
      // Node uses the nearest package.json whatever it contains, and an unreadable one means CommonJS.
      try {
        return JSON.parse(fs.readFileSync(pkgFile, 'utf8')).type === 'module';
      } catch {
        return false;
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir || path.basename(dir) === 'node_modules') return false;
    dir = parent;
  }
}

async function importModule(file) {
  if (isEsModule(file)) return import(pathToFileURL(file).href);
  try {
    return require(file);
  } catch (err) {
    // A CommonJS-looking file that is really ESM (or has top-level await on Node 22): import() handles it.
    if (err && (err.code === 'ERR_REQUIRE_ESM' || err.code === 'ERR_REQUIRE_ASYNC_MODULE')) {
      return import(pathToFileURL(file).href);
    }
    throw err;
  }
}

function lookupPath(root, parts) {
  let value = root;
  for (const part of parts) {
    if (value === null || value === undefined) return undefined;
    value = value[part];
  }
  return value;
}

function describe(err) {
  const body = errorBody(err);
  return `${body.errorType}: ${body.errorMessage}`;
}

async function loadHandler(taskRoot, handlerName) {
  const { directory, moduleName, functionPath } = parseHandlerName(handlerName);
  const file = resolveModuleFile(taskRoot, directory, moduleName);
  if (file === undefined) {
    throw new InitFailure('Runtime.ImportModuleError', `Error: Cannot find module '${moduleName}'`);
  }

  let loaded;
  try {
    loaded = await importModule(file);
  } catch (err) {
    if (err instanceof SyntaxError || (err && err.name === 'SyntaxError')) {
      throw new InitFailure('Runtime.UserCodeSyntaxError', describe(err), errorBody(err).trace);
    }
    if (err && (err.code === 'MODULE_NOT_FOUND' || err.code === 'ERR_MODULE_NOT_FOUND')) {
      // The handler file exists but something it imports does not.
      throw new InitFailure('Runtime.ImportModuleError', describe(err), errorBody(err).trace);
    }
    // Anything else thrown by the module's top level is reported as itself.
    throw err;
  }

  // ES modules: `export const handler` is on the namespace; `export default { handler }` (and CommonJS loaded
  // through import(), or transpiled `exports.default`) is one step further, under `default`.
  let fn = lookupPath(loaded, functionPath);
  if (fn === undefined || fn === null) fn = lookupPath(loaded && loaded.default, functionPath);
  const shownName = `${moduleName}.${functionPath.join('.')}`;
  if (fn === undefined || fn === null) {
    throw new InitFailure('Runtime.HandlerNotFound', `${shownName} is undefined or not exported`);
  }
  if (typeof fn !== 'function') {
    throw new InitFailure('Runtime.HandlerNotFound', `${shownName} is not a function`);
  }
  return fn;
}

// ---------------------------------------------------------------------------------------------------------------
// Invocations
// ---------------------------------------------------------------------------------------------------------------

let initializing = true;
// The invocation being run: { requestId, posted }. Null between invocations.
let current = null;
// What to do when the event loop runs dry. `beforeExit` fires exactly when nothing but our own unref'd keep-alive
// socket is left, which is Lambda's definition of "the event loop is empty".
let onEmptyEventLoop = null;

process.on('beforeExit', () => {
  const action = onEmptyEventLoop;
  onEmptyEventLoop = null;
  if (action) {
    action();
  } else if (exiting) {
    // Already on the way out.
  } else if (initializing) {
    // import() of the handler module is still pending yet nothing can settle it: a top-level await on a promise
    // that never resolves. Node would otherwise exit quietly with code 0, which looks like success to the host.
    fatal({
      errorType: 'Runtime.ImportModuleError',
      errorMessage: 'The handler module never finished loading: a top-level await is waiting for something '
        + 'that can no longer happen',
      trace: [],
    }, 'Init Error');
  } else {
    runtimeLog('ERROR', '[inlet bootstrap] the event loop emptied unexpectedly; exiting');
    process.exitCode = 1;
  }
});

function fatal(body, label) {
  if (exiting) return;
  exiting = true;
  runtimeLog('ERROR', `${label} \t${JSON.stringify(body)}`);
  let report = Promise.resolve();
  if (initializing) {
    report = postInitError(body, body.errorType);
  } else if (current && !current.posted) {
    current.posted = true;
    onEmptyEventLoop = null;
    report = postInvocationError(current.requestId, body);
  }
  // Either way the process is in an unknown state now; the host starts a fresh one.
  report.catch(() => {}).then(() => exitAfterFlush(1));
}

process.on('uncaughtException', (err) => {
  fatal(errorBody(err), 'Uncaught Exception');
});

process.on('unhandledRejection', (reason) => {
  const inner = errorBody(reason);
  fatal({
    errorType: 'Runtime.UnhandledPromiseRejection',
    errorMessage: isErrorLike(reason) ? `${inner.errorType}: ${inner.errorMessage}` : inner.errorMessage,
    trace: inner.trace,
  }, 'Unhandled Promise Rejection');
});

function parseJsonHeader(value, name) {
  if (value === undefined || value === '') return undefined;
  try {
    return JSON.parse(value);
  } catch {
    runtimeLog('WARN', `[inlet bootstrap] ignoring ${name}: it is not valid JSON`);
    return undefined;
  }
}

function isThenable(value) {
  return value !== null && (typeof value === 'object' || typeof value === 'function')
    && typeof value.then === 'function';
}

/** Runs one invocation; the promise settles once its result or error has been posted, with `{ next }`: the next event's answer, asked for with it. */
function runInvocation(handler, inv) {
  return new Promise((finished) => {
    const state = { requestId: inv.requestId, posted: false };
    let settled = false;
    current = state;
    logRequestId = inv.requestId;
    // Lambda exposes the X-Ray trace header to the SDKs through this variable.
    if (inv.traceId) process.env._X_AMZN_TRACE_ID = inv.traceId;
    else delete process.env._X_AMZN_TRACE_ID;

    const post = (outcome) => {
      if (state.posted) return;
      state.posted = true;
      onEmptyEventLoop = null;
      const sending = outcome.ok
        ? postInvocationResponse(state.requestId, outcome.value, true)
        : postInvocationError(state.requestId, errorBody(outcome.error), true);
      sending.then((next) => {
        if (current === state) {
          current = null;
          logRequestId = undefined;
        }
        // Wrapped: the next event's answer is the main loop's to wait for, not this promise's.
        finished({ next });
      }, transportFailure);
    };

    // The first result wins, whatever its source; later calls are ignored as in Lambda.
    const settle = (outcome, waitForEmptyEventLoop) => {
      if (settled || state.posted) return;
      settled = true;
      if (waitForEmptyEventLoop) onEmptyEventLoop = () => post(outcome);
      else post(outcome);
    };

    // If the handler never produces a result and the loop empties (a sync handler that returns without calling
    // back, a promise nobody resolves), Lambda answers null.
    onEmptyEventLoop = () => settle({ ok: true, value: undefined }, false);

    const deadlineMs = Number.isFinite(inv.deadlineMs) && inv.deadlineMs > 0
      ? inv.deadlineMs
      : Date.now() + 15 * 60 * 1000; // no deadline given: Lambda's longest timeout

    const context = {
      callbackWaitsForEmptyEventLoop: true,
      functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
      functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
      invokedFunctionArn: inv.invokedFunctionArn,
      memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
      awsRequestId: inv.requestId,
      logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
      logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
      clientContext: parseJsonHeader(inv.clientContext, 'Lambda-Runtime-Client-Context'),
      identity: parseJsonHeader(inv.cognitoIdentity, 'Lambda-Runtime-Cognito-Identity'),
      getRemainingTimeInMillis: () => deadlineMs - Date.now(),
      // The legacy completion functions answer at once, without waiting for the loop; they are closures so
      // `promise.then(context.succeed)` works unbound.
      succeed: (result) => settle({ ok: true, value: result }, false),
      fail: (err) => settle({ ok: false, error: err }, false),
      done: (err, result) => {
        if (err !== undefined && err !== null) settle({ ok: false, error: err }, false);
        else settle({ ok: true, value: result }, false);
      },
    };

    const callback = (err, result) => {
      if (err !== undefined && err !== null) {
        // Errors are reported at once even when waiting for the loop, as the Node runtime does.
        settle({ ok: false, error: err }, false);
      } else {
        // Read at call time: handlers commonly set the flag just before calling back.
        settle({ ok: true, value: result }, Boolean(context.callbackWaitsForEmptyEventLoop));
      }
    };

    let event;
    try {
      event = JSON.parse(inv.body.toString('utf8'));
    } catch (err) {
      settle({ ok: false, error: err }, false);
      return;
    }

    let returned;
    try {
      returned = handler(event, context, callback);
    } catch (err) {
      settle({ ok: false, error: err }, false);
      return;
    }
    try {
      if (isThenable(returned)) {
        returned.then(
          (value) => settle({ ok: true, value }, false),
          (err) => settle({ ok: false, error: err }, false),
        );
      }
      // Any other return value is ignored: the callback, the legacy functions or the empty loop decide.
    } catch (err) {
      // A `then` getter or method that throws.
      settle({ ok: false, error: err }, false);
    }
  });
}

// ---------------------------------------------------------------------------------------------------------------
// aws-sdk v2
// ---------------------------------------------------------------------------------------------------------------

// The AWS SDK for JavaScript v3 (and boto3, Go and Java v2) read AWS_ENDPOINT_URL; aws-sdk v2 does not. Many
// functions bundle v2 in their own node_modules, so every copy of it the function loads is pointed at the endpoint
// here, before the function's code sees it: the global AWS.config of that copy gets the endpoint, path-style S3 and
// Signature Version 4. The function's files are not touched, and settings it passes to a client itself still win.
function redirectAwsSdkV2(endpoint) {
  if (!endpoint) return;
  const Module = require('module');
  const load = Module._load;
  const configured = new WeakSet();
  Module._load = function loadWithInletEndpoint(request, parent, isMain) {
    const exported = load.apply(this, arguments);
    if (typeof request === 'string' && (request === 'aws-sdk' || request.startsWith('aws-sdk/'))) {
      let AWS = exported;
      if (!(AWS && AWS.config && typeof AWS.config.update === 'function')) {
        try {
          // aws-sdk/clients/<service>: the copy's global object is aws-sdk/global, beside it.
          AWS = load.call(this, 'aws-sdk/global', parent, false);
        } catch {
          return exported;
        }
      }
      if (AWS && AWS.config && !configured.has(AWS.config)) {
        configured.add(AWS.config);
        AWS.config.update({
          endpoint,
          s3ForcePathStyle: true,
          sslEnabled: endpoint.startsWith('https:'),
          s3: { signatureVersion: 'v4' },
        });
      }
    }
    return exported;
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------------------------

async function main() {
  installConsole();
  try {
    apiAddress = parseApiAddress(process.env.AWS_LAMBDA_RUNTIME_API);
  } catch (err) {
    runtimeLog('ERROR', `[inlet bootstrap] ${err.message}`);
    exitAfterFlush(1);
    return;
  }

  const taskRoot = process.env.LAMBDA_TASK_ROOT || process.cwd();
  redirectAwsSdkV2(process.env.AWS_ENDPOINT_URL);
  let handler;
  try {
    handler = await loadHandler(taskRoot, process.env._HANDLER);
  } catch (err) {
    if (exiting) return; // an uncaught error during init already reported
    exiting = true;
    const body = err instanceof InitFailure ? err.body : errorBody(err);
    try {
      await postInitError(body, body.errorType);
    } catch (postErr) {
      runtimeLog('ERROR', `[inlet bootstrap] could not report the init error: ${postErr.message}`);
    }
    exitAfterFlush(1);
    return;
  }
  // An error thrown asynchronously by the module's top level may already have been reported as the init error.
  if (exiting) return;
  initializing = false;
  await flushOutput();

  // One invocation at a time, for as long as the host keeps sending events; each answer asks for the next one.
  let next = null;
  for (;;) {
    const inv = await nextInvocation(next);
    if (exiting) return;
    ({ next } = await runInvocation(handler, inv));
    if (exiting) return;
  }
}

main().catch(transportFailure);
