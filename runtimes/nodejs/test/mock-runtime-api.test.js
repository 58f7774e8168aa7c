'use strict';
/*
 * Tests for bootstrap.js against a mock Lambda Runtime API. Node built-ins only.
 *
 *   node --test runtimes/nodejs/test/
 *
 * Each test writes fixture handlers into a temporary LAMBDA_TASK_ROOT, starts a mock Runtime API on a loopback
 * port chosen by the OS, spawns `node bootstrap.js` against it, feeds it events and checks what it posts back.
 */

const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { once } = require('node:events');

const BOOTSTRAP = path.resolve(__dirname, '..', 'bootstrap.js');
const PREFIX = '/2018-06-01';

/** A minimal Runtime API: a queue of events for GET /next, and a record of everything posted back. */
class MockRuntimeApi {
  /**
   * `chunked`: every body goes out in two writes, so Node sends it with chunked transfer encoding. `answerDelayMs`:
   * how long the 202 to a post waits. `closeAfterAnswer`: the 202 to a post says `Connection: close`.
   */
  constructor({ chunked = false, answerDelayMs = 0, closeAfterAnswer = false } = {}) {
    this.chunked = chunked;
    this.answerDelayMs = answerDelayMs;
    this.closeAfterAnswer = closeAfterAnswer;
    this.requests = []; // { method, url, at, socket } in the order they arrived
    this.sockets = new Set();
    this.queue = [];
    this.parkedNext = [];
    this.posts = [];
    this.postWaiters = [];
    this.dispatched = new Map(); // requestId -> time the event was handed out
    this.nextCalls = 0;
    this.counter = 0;
    this.server = http.createServer((req, res) => this.handle(req, res));
  }

  async start() {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return `127.0.0.1:${this.server.address().port}`;
  }

  stop() {
    for (const res of this.parkedNext) res.destroy();
    this.server.closeAllConnections();
    this.server.close();
  }

  /** Queues an event; returns its request id. */
  invoke(event, { timeoutMs = 30000, headers = {} } = {}) {
    const requestId = `req-${++this.counter}-${Math.random().toString(16).slice(2, 10)}`;
    this.queue.push({ requestId, body: JSON.stringify(event), deadline: Date.now() + timeoutMs, headers });
    this.dispatch();
    return requestId;
  }

  dispatch() {
    while (this.queue.length > 0 && this.parkedNext.length > 0) {
      const inv = this.queue.shift();
      const res = this.parkedNext.shift();
      this.dispatched.set(inv.requestId, Date.now());
      res.writeHead(200, Object.assign({
        'Content-Type': 'application/json',
        'Lambda-Runtime-Aws-Request-Id': inv.requestId,
        'Lambda-Runtime-Deadline-Ms': String(inv.deadline),
        'Lambda-Runtime-Invoked-Function-Arn': 'arn:aws:lambda:us-east-1:123456789012:function:test-fn',
        'Lambda-Runtime-Trace-Id': 'Root=1-00000000-000000000000000000000000;Sampled=0',
      }, inv.headers));
      this.send(res, inv.body);
    }
  }

  handle(req, res) {
    this.requests.push({ method: req.method, url: req.url, at: Date.now(), socket: req.socket });
    this.sockets.add(req.socket);
    if (this.closeAfterAnswer && req.method === 'POST') req.socket.closingAfterAnswer = true;
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const url = req.url;
      if (req.method === 'GET' && url === `${PREFIX}/runtime/invocation/next`) {
        this.nextCalls++;
        // A request pipelined behind a `Connection: close` answer is not served, as an HTTP server does not.
        if (req.socket.closingAfterAnswer) return;
        this.parkedNext.push(res);
        this.dispatch();
        return;
      }
      let match;
      let post;
      const raw = Buffer.concat(chunks).toString('utf8');
      if (req.method === 'POST' && (match = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/.exec(url))) {
        post = { kind: match[2], requestId: decodeURIComponent(match[1]) };
      } else if (req.method === 'POST' && url === `${PREFIX}/runtime/init/error`) {
        post = { kind: 'init-error' };
      } else {
        res.writeHead(404).end();
        return;
      }
      post.headers = req.headers;
      post.raw = raw;
      post.body = JSON.parse(raw);
      post.at = Date.now();
      this.posts.push(post);
      this.postWaiters = this.postWaiters.filter((w) => !w.check());
      const answer = () => {
        res.writeHead(202, Object.assign({ 'Content-Type': 'application/json' }, this.closeAfterAnswer ? { Connection: 'close' } : {}));
        this.send(res, '{"status":"OK"}');
      };
      if (this.answerDelayMs > 0) setTimeout(answer, this.answerDelayMs);
      else answer();
    });
  }

  send(res, body) {
    if (!this.chunked) {
      res.end(body);
      return;
    }
    const half = Math.floor(body.length / 2);
    res.write(body.slice(0, half));
    res.end(body.slice(half));
  }

  /** Resolves with the first post (past or future) that matches `predicate`. */
  waitForPost(predicate, timeoutMs = 10000) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching post within ${timeoutMs} ms; got ${JSON.stringify(this.posts.map((p) => [p.kind, p.raw]))}`)), timeoutMs);
      const waiter = {
        check: () => {
          const found = this.posts.find(predicate);
          if (!found) return false;
          clearTimeout(timer);
          resolve(found);
          return true;
        },
      };
      if (!waiter.check()) this.postWaiters.push(waiter);
    });
  }

  /** The response or error posted for one request id. */
  resultFor(requestId, timeoutMs) {
    return this.waitForPost((p) => p.requestId === requestId, timeoutMs);
  }
}

/**
 * Writes `files` into a temp task root, starts the mock API and the bootstrap. Returns handles for the test and
 * registers cleanup with `t`.
 */
async function startFunction(t, { files, handler, env = {}, chunked = false, answerDelayMs = 0, closeAfterAnswer = false }) {
  const taskRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'inlet-node-rt-'));
  for (const [name, content] of Object.entries(files)) {
    const full = path.join(taskRoot, name);
    fs.mkdirSync(path.dirname(full), { recursive: true });
    fs.writeFileSync(full, content);
  }
  const api = new MockRuntimeApi({ chunked, answerDelayMs, closeAfterAnswer });
  const address = await api.start();
  const child = spawn(process.execPath, [BOOTSTRAP], {
    cwd: taskRoot,
    env: Object.assign({
      PATH: process.env.PATH,
      AWS_LAMBDA_RUNTIME_API: address,
      _HANDLER: handler,
      LAMBDA_TASK_ROOT: taskRoot,
      AWS_LAMBDA_FUNCTION_NAME: 'test-fn',
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '128',
      AWS_LAMBDA_LOG_GROUP_NAME: '/aws/lambda/test-fn',
      AWS_LAMBDA_LOG_STREAM_NAME: '2024/01/01/[$LATEST]abcdef',
      AWS_REGION: 'us-east-1',
    }, env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = { stdout: '', stderr: '' };
  child.stdout.setEncoding('utf8').on('data', (d) => { output.stdout += d; });
  child.stderr.setEncoding('utf8').on('data', (d) => { output.stderr += d; });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));

  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill();
      await exited;
    }
    api.stop();
    fs.rmSync(taskRoot, { recursive: true, force: true });
  });

  return { api, child, output, exited, taskRoot };
}

/** Waits until `predicate()` holds, polling; for output that arrives through pipes. */
async function eventually(predicate, timeoutMs = 5000) {
  const until = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const SES_EVENT = {
  Records: [{
    eventSource: 'aws:ses',
    eventVersion: '1.0',
    ses: {
      mail: { messageId: 'o3vrnil0e2ic28trm7dfhrc2v0clambda4nbp0g1', source: 'sender@example.com', destination: ['r@example.com'] },
      receipt: { recipients: ['r@example.com'], spamVerdict: { status: 'PASS' } },
    },
  }],
};

// ------------------------------------------------------------------------------------------------------------
// Results
// ------------------------------------------------------------------------------------------------------------

test('the SES documentation spam filter handler works as written', async (t) => {
  const fn = await startFunction(t, {
    handler: 'index.handler',
    files: {
      'index.js': `
exports.handler = function(event, context, callback) {
    console.log('Spam filter');
    var sesNotification = event.Records[0].ses;
    console.log("SES Notification:\\n", JSON.stringify(sesNotification, null, 2));
    callback( null, { "disposition" : "STOP_RULE_SET" });
};
`,
    },
  });
  const id = fn.api.invoke(SES_EVENT);
  const post = await fn.api.resultFor(id);
  assert.equal(post.kind, 'response');
  assert.deepEqual(post.body, { disposition: 'STOP_RULE_SET' });
  await eventually(() => fn.output.stdout.includes('Spam filter'));
  // The multi-line record keeps its newlines and starts with the usual four fields.
  await eventually(() => fn.output.stdout.includes('"spamVerdict"'));
  assert.match(fn.output.stdout, new RegExp(`\\t${id}\\tINFO\\tSES Notification:\\n \\{\\n  "mail"`));
});

test('an async handler returning a value', async (t) => {
  const fn = await startFunction(t, {
    handler: 'index.handler',
    files: { 'index.js': `exports.handler = async (event) => ({ got: event.n * 2 });` },
  });
  const post = await fn.api.resultFor(fn.api.invoke({ n: 21 }));
  assert.equal(post.kind, 'response');
  assert.deepEqual(post.body, { got: 42 });
});

test('an async handler returning undefined answers null', async (t) => {
  const fn = await startFunction(t, {
    handler: 'index.handler',
    files: { 'index.js': `exports.handler = async () => {};` },
  });
  const post = await fn.api.resultFor(fn.api.invoke({}));
  assert.equal(post.kind, 'response');
  assert.equal(post.raw, 'null');
});

test('a sync handler that never calls back answers null once the event loop is empty', async (t) => {
  const fn = await startFunction(t, {
    handler: 'index.handler',
    files: { 'index.js': `exports.handler = () => { setTimeout(() => {}, 100); return 'ignored'; };` },
  });
  const id = fn.api.invoke({});
  const post = await fn.api.resultFor(id);
  assert.equal(post.kind, 'response');
  assert.equal(post.raw, 'null');
  assert.ok(post.at - fn.api.dispatched.get(id) >= 80, 'answered before the pending timer ran');
});

test('a result that cannot be serialised becomes the invocation error', async (t) => {
  const fn = await startFunction(t, {
    handler: 'index.handler',
    files: { 'index.js': `exports.handler = async () => { const o = {}; o.self = o; return o; };` },
  });
  const post = await fn.api.resultFor(fn.api.invoke({}));
  assert.equal(post.kind, 'error');
  assert.equal(post.body.errorType, 'TypeError');
  assert.match(post.body.errorMessage, /circular/i);
});

test('a returned promise that rejects posts the error', async (t) => {
  const fn = await startFunction(t, {
    handler: 'index.handler',
    files: { 'index.js': `exports.handler = () => Promise.reject(new TypeError('bad input'));` },
  });
  const post = await fn.api.resultFor(fn.api.invoke({}));
  assert.equal(post.kind, 'error');
  assert.equal(post.headers['content-type'], 'application/json');
  assert.equal(post.body.errorType, 'TypeError');
  assert.equal(post.body.errorMessage, 'bad input');
  assert.ok(Array.isArray(post.body.trace));
  assert.equal(post.body.trace[0], 'TypeError: bad input');
  assert.match(post.body.trace[1], /^\s+at /);
});

test('an Error thrown by a sync handler posts the error and the process carries on', async (t) => {
  const fn = await startFunction(t, {
    handler: 'index.handler',
    files: {
      'index.js': `
exports.handler = (event, context, callback) => {
  if (event.fail) throw new Error('sync boom');
  callback(null, 'fine');
};`,
    },
  });
  const first = await fn.api.resultFor(fn.api.invoke({ fail: true }));
  assert.equal(first.kind, 'error');
  assert.deepEqual([first.body.errorType, first.body.errorMessage], ['Error', 'sync boom']);
  assert.equal(first.body.trace[0], 'Error: sync boom');
  const second = await fn.api.resultFor(fn.api.invoke({ fail: false }));
  assert.equal(second.kind, 'response');
  assert.equal(second.body, 'fine');
});

test('custom error classes report their class name', async (t) => {
  const fn = await startFunction(t, {
    handler: 'index.handler',
    files: {
      'index.js': `
class MailRejected extends Error {}
class Named extends Error { constructor(m) { super(m); this.name = 'QuotaExceeded'; } }
exports.handler = async (event) => { throw event.named ? new Named('over') : new MailRejected('nope'); };`,
    },
  });
  const a = await fn.api.resultFor(fn.api.invoke({}));
  assert.deepEqual([a.body.errorType, a.body.errorMessage], ['MailRejected', 'nope']);
  const b = await fn.api.resultFor(fn.api.invoke({ named: true }));
  assert.deepEqual([b.body.errorType, b.body.errorMessage], ['QuotaExceeded', 'over']);
});

test('callback("boom") posts a string error', async (t) => {
  const fn = await startFunction(t, {
    handler: 'index.handler',
    files: { 'index.js': `exports.handler = (event, context, callback) => callback('boom');` },
  });
  const post = await fn.api.resultFor(fn.api.invoke({}));
  assert.equal(post.kind, 'error');
  assert.equal(post.body.errorType, 'string');
  assert.equal(post.body.errorMessage, 'boom');
});

test('throw "oops" posts a string error', async (t) => {
  const fn = await startFunction(t, {
    handler: 'index.handler',
    files: { 'index.js': `exports.handler = () => { throw 'oops'; };` },
  });
  const post = await fn.api.resultFor(fn.api.invoke({}));
  assert.deepEqual([post.kind, post.body.errorType, post.body.errorMessage], ['error', 'string', 'oops']);
});

test('context.succeed posts the result', async (t) => {
  const fn = await startFunction(t, {
    handler: 'index.handler',
    files: { 'index.js': `exports.handler = (event, context) => { setTimeout(() => context.succeed({ ok: 1 }), 10); };` },
  });
  const post = await fn.api.resultFor(fn.api.invoke({}));
  assert.equal(post.kind, 'response');
  assert.deepEqual(post.body, { ok: 1 });
});

test('context.fail posts the error', async (t) => {
  const fn = await startFunction(t, {
    handler: 'index.handler',
    files: { 'index.js': `exports.handler = (event, context) => context.fail(new RangeError('failed'));` },
  });
  const post = await fn.api.resultFor(fn.api.invoke({}));
  assert.equal(post.kind, 'error');
  assert.deepEqual([post.body.errorType, post.body.errorMessage], ['RangeError', 'failed']);
});

test('context.done and the first result wins', async (t) => {
  const fn = await startFunction(t, {
    handler: 'index.handler',
    files: {
      'index.js': `
exports.handler = async (event, context, callback) => {
  context.done(null, 'from done');
  callback(null, 'from callback');
  return 'from promise';
};`,
    },
  });
  const id = fn.api.invoke({});
  const post = await fn.api.resultFor(id);
  assert.equal(post.body, 'from done');
  // Give any late duplicate a chance to show up.
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(fn.api.posts.filter((p) => p.requestId === id).length, 1);
});

// ------------------------------------------------------------------------------------------------------------
// callbackWaitsForEmptyEventLoop
// ------------------------------------------------------------------------------------------------------------

test('callbackWaitsForEmptyEventLoop = true: the response waits for a pending timer', async (t) => {
  const fn = await startFunction(t, {
    handler: 'index.handler',
    files: {
      'index.js': `
exports.handler = (event, context, callback) => {
  setTimeout(() => console.log('timer fired'), 200);
  callback(null, { waited: context.callbackWaitsForEmptyEventLoop });
};`,
    },
  });
  const id = fn.api.invoke({});
  const post = await fn.api.resultFor(id);
  assert.deepEqual(post.body, { waited: true });
  const elapsed = post.at - fn.api.dispatched.get(id);
  assert.ok(elapsed >= 180, `response arrived after ${elapsed} ms, before the 200 ms timer`);
  await eventually(() => fn.output.stdout.includes('timer fired'));
});

test('callbackWaitsForEmptyEventLoop = false: the response is posted at once', async (t) => {
  const fn = await startFunction(t, {
    handler: 'index.handler',
    files: {
      'index.js': `
exports.handler = (event, context, callback) => {
  context.callbackWaitsForEmptyEventLoop = false;
  setTimeout(() => {}, 3000);
  callback(null, 'quick');
};`,
    },
  });
  const id = fn.api.invoke({});
  const post = await fn.api.resultFor(id);
  assert.equal(post.body, 'quick');
  const elapsed = post.at - fn.api.dispatched.get(id);
  assert.ok(elapsed < 1500, `response took ${elapsed} ms; it waited for the 3 s timer`);
});

test('a callback error is posted without waiting for the event loop', async (t) => {
  const fn = await startFunction(t, {
    handler: 'index.handler',
    files: {
      'index.js': `
exports.handler = (event, context, callback) => {
  setTimeout(() => {}, 3000);
  callback(new Error('early'));
};`,
    },
  });
  const id = fn.api.invoke({});
  const post = await fn.api.resultFor(id);
  assert.equal(post.kind, 'error');
  assert.ok(post.at - fn.api.dispatched.get(id) < 1500);
});

// ------------------------------------------------------------------------------------------------------------
// Handler loading
// ------------------------------------------------------------------------------------------------------------

test('ES module handler (.mjs with export const handler)', async (t) => {
  const fn = await startFunction(t, {
    handler: 'index.handler',
    files: { 'index.mjs': `export const handler = async (event) => ({ esm: true, echo: event.x });` },
  });
  const post = await fn.api.resultFor(fn.api.invoke({ x: 'y' }));
  assert.deepEqual(post.body, { esm: true, echo: 'y' });
});

test('ES module .js under "type": "module", with export default { handler }', async (t) => {
  const fn = await startFunction(t, {
    handler: 'src/app.handler',
    files: {
      'package.json': JSON.stringify({ type: 'module' }),
      'src/app.js': `const v = await Promise.resolve(7); export default { handler: async () => ({ v }) };`,
    },
  });
  const post = await fn.api.resultFor(fn.api.invoke({}));
  assert.deepEqual(post.body, { v: 7 });
});

test('CommonJS module in a nested folder (lib/sub/mod.handler)', async (t) => {
  const fn = await startFunction(t, {
    handler: 'lib/sub/mod.handler',
    files: {
      'lib/sub/mod.js': `const h = require('./helper'); exports.handler = async () => h();`,
      'lib/sub/helper.js': `module.exports = () => 'nested';`,
    },
  });
  const post = await fn.api.resultFor(fn.api.invoke({}));
  assert.equal(post.body, 'nested');
});

test('nested function path (mod.a.b)', async (t) => {
  const fn = await startFunction(t, {
    handler: 'mod.a.b',
    files: { 'mod.js': `module.exports = { a: { b: async () => 'deep' } };` },
  });
  const post = await fn.api.resultFor(fn.api.invoke({}));
  assert.equal(post.body, 'deep');
});

test('a module folder with index.js', async (t) => {
  const fn = await startFunction(t, {
    handler: 'pkg.handler',
    files: { 'pkg/index.js': `exports.handler = async () => 'from index';` },
  });
  const post = await fn.api.resultFor(fn.api.invoke({}));
  assert.equal(post.body, 'from index');
});

async function expectInitError(t, options, errorType) {
  const fn = await startFunction(t, options);
  const post = await fn.api.waitForPost((p) => p.kind === 'init-error');
  const exit = await fn.exited;
  assert.equal(exit.code, 1);
  assert.equal(post.headers['lambda-runtime-function-error-type'], errorType);
  assert.equal(post.headers['content-type'], 'application/json');
  assert.equal(post.body.errorType, errorType);
  assert.ok(Array.isArray(post.body.trace));
  assert.equal(fn.api.nextCalls, 0, 'asked for an event despite failing init');
  return post;
}

test('missing module: init error Runtime.ImportModuleError, exit 1', async (t) => {
  const post = await expectInitError(t, { handler: 'index.handler', files: { 'other.js': '' } },
    'Runtime.ImportModuleError');
  assert.equal(post.body.errorMessage, "Error: Cannot find module 'index'");
});

test('missing dependency of the module: Runtime.ImportModuleError', async (t) => {
  const post = await expectInitError(t, {
    handler: 'index.handler',
    files: { 'index.js': `require('no-such-package'); exports.handler = async () => 1;` },
  }, 'Runtime.ImportModuleError');
  assert.match(post.body.errorMessage, /^Error: Cannot find module 'no-such-package'/);
});

test('missing function: init error Runtime.HandlerNotFound', async (t) => {
  const post = await expectInitError(t, {
    handler: 'index.handler',
    files: { 'index.js': `exports.other = () => {};` },
  }, 'Runtime.HandlerNotFound');
  assert.equal(post.body.errorMessage, 'index.handler is undefined or not exported');
});

test('syntax error: init error Runtime.UserCodeSyntaxError', async (t) => {
  const post = await expectInitError(t, {
    handler: 'index.handler',
    files: { 'index.js': `exports.handler = async () => { return 1;` },
  }, 'Runtime.UserCodeSyntaxError');
  assert.match(post.body.errorMessage, /^SyntaxError: /);
});

test('an error thrown at module top level is reported as itself', async (t) => {
  const post = await expectInitError(t, {
    handler: 'index.handler',
    files: { 'index.js': `throw new RangeError('bad config');` },
  }, 'RangeError');
  assert.equal(post.body.errorMessage, 'bad config');
});

test('a handler name without a function part: Runtime.MalformedHandlerName', async (t) => {
  await expectInitError(t, { handler: 'index', files: { 'index.js': '' } }, 'Runtime.MalformedHandlerName');
});

test('a top-level await that never settles is an init error, not a silent exit', async (t) => {
  const post = await expectInitError(t, {
    handler: 'index.handler',
    files: { 'index.mjs': `await new Promise(() => {}); export const handler = async () => 1;` },
  }, 'Runtime.ImportModuleError');
  assert.match(post.body.errorMessage, /never finished loading/);
});

// ------------------------------------------------------------------------------------------------------------
// Crashes
// ------------------------------------------------------------------------------------------------------------

test('an uncaught exception during an invocation posts its error and exits 1', async (t) => {
  const fn = await startFunction(t, {
    handler: 'index.handler',
    files: { 'index.js': `exports.handler = (e, c, cb) => { setTimeout(() => { throw new SyntaxError('later'); }, 10); };` },
  });
  const post = await fn.api.resultFor(fn.api.invoke({}));
  assert.deepEqual([post.kind, post.body.errorType, post.body.errorMessage], ['error', 'SyntaxError', 'later']);
  assert.equal((await fn.exited).code, 1);
});

test('an unhandled rejection during an invocation posts Runtime.UnhandledPromiseRejection and exits 1', async (t) => {
  const fn = await startFunction(t, {
    handler: 'index.handler',
    files: { 'index.js': `exports.handler = (e, c, cb) => { Promise.reject(new Error('forgotten')); };` },
  });
  const post = await fn.api.resultFor(fn.api.invoke({}));
  assert.equal(post.kind, 'error');
  assert.equal(post.body.errorType, 'Runtime.UnhandledPromiseRejection');
  assert.equal(post.body.errorMessage, 'Error: forgotten');
  assert.equal((await fn.exited).code, 1);
});

// ------------------------------------------------------------------------------------------------------------
// Context and logging
// ------------------------------------------------------------------------------------------------------------

test('console.log writes one tab-separated record with the request id', async (t) => {
  const fn = await startFunction(t, {
    handler: 'index.handler',
    files: {
      'index.js': `
console.log('at init');
exports.handler = async () => {
  console.log('hello %s', 'world', { a: 1 });
  console.error('bad thing');
  console.warn('careful');
  console.debug('dbg');
  return 1;
};`,
    },
  });
  const id = fn.api.invoke({});
  await fn.api.resultFor(id);
  await eventually(() => fn.output.stdout.includes('dbg') && fn.output.stderr.includes('careful'));

  const lines = fn.output.stdout.split('\n');
  const hello = lines.find((l) => l.includes('hello world'));
  const fields = hello.split('\t');
  assert.equal(fields.length, 4);
  assert.match(fields[0], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal(fields[1], id);
  assert.equal(fields[2], 'INFO');
  assert.equal(fields[3], 'hello world { a: 1 }');

  assert.deepEqual(lines.find((l) => l.includes('at init')).split('\t').slice(1), ['undefined', 'INFO', 'at init']);
  assert.deepEqual(lines.find((l) => l.includes('dbg')).split('\t').slice(1), [id, 'DEBUG', 'dbg']);
  const errLines = fn.output.stderr.split('\n');
  assert.deepEqual(errLines.find((l) => l.includes('bad thing')).split('\t').slice(1), [id, 'ERROR', 'bad thing']);
  assert.deepEqual(errLines.find((l) => l.includes('careful')).split('\t').slice(1), [id, 'WARN', 'careful']);
});

test('context members and a decreasing getRemainingTimeInMillis()', async (t) => {
  const fn = await startFunction(t, {
    handler: 'index.handler',
    files: {
      'index.js': `
exports.handler = async (event, context) => {
  const first = context.getRemainingTimeInMillis();
  await new Promise((r) => setTimeout(r, 60));
  const second = context.getRemainingTimeInMillis();
  return {
    first, second,
    awsRequestId: context.awsRequestId,
    functionName: context.functionName,
    functionVersion: context.functionVersion,
    invokedFunctionArn: context.invokedFunctionArn,
    memoryLimitInMB: context.memoryLimitInMB,
    logGroupName: context.logGroupName,
    logStreamName: context.logStreamName,
    callbackWaitsForEmptyEventLoop: context.callbackWaitsForEmptyEventLoop,
    clientContext: context.clientContext,
    identity: context.identity,
    traceEnv: process.env._X_AMZN_TRACE_ID,
  };
};`,
    },
  });
  const id = fn.api.invoke({}, {
    timeoutMs: 10000,
    headers: {
      'Lambda-Runtime-Client-Context': JSON.stringify({ custom: { k: 'v' } }),
      'Lambda-Runtime-Cognito-Identity': JSON.stringify({ cognitoIdentityId: 'id-1', cognitoIdentityPoolId: 'pool-1' }),
    },
  });
  const { body } = await fn.api.resultFor(id);
  assert.ok(body.first <= 10000 && body.first > 5000, `first = ${body.first}`);
  assert.ok(body.second <= body.first - 50, `second = ${body.second}, first = ${body.first}`);
  assert.equal(body.awsRequestId, id);
  assert.equal(body.functionName, 'test-fn');
  assert.equal(body.functionVersion, '$LATEST');
  assert.equal(body.invokedFunctionArn, 'arn:aws:lambda:us-east-1:123456789012:function:test-fn');
  assert.equal(body.memoryLimitInMB, '128');
  assert.equal(body.logGroupName, '/aws/lambda/test-fn');
  assert.equal(body.logStreamName, '2024/01/01/[$LATEST]abcdef');
  assert.equal(body.callbackWaitsForEmptyEventLoop, true);
  assert.deepEqual(body.clientContext, { custom: { k: 'v' } });
  assert.deepEqual(body.identity, { cognitoIdentityId: 'id-1', cognitoIdentityPoolId: 'pool-1' });
  assert.equal(body.traceEnv, 'Root=1-00000000-000000000000000000000000;Sampled=0');
});

test('clientContext and identity are undefined without their headers', async (t) => {
  const fn = await startFunction(t, {
    handler: 'index.handler',
    files: { 'index.js': `exports.handler = async (e, c) => [c.clientContext === undefined, c.identity === undefined];` },
  });
  const { body } = await fn.api.resultFor(fn.api.invoke({}));
  assert.deepEqual(body, [true, true]);
});

test('two invocations in a row on one process', async (t) => {
  const fn = await startFunction(t, {
    handler: 'index.handler',
    files: {
      'index.js': `
let count = 0;
exports.handler = (event, context, callback) => { count++; callback(null, { count, pid: process.pid, n: event.n }); };`,
    },
  });
  const a = await fn.api.resultFor(fn.api.invoke({ n: 'a' }));
  const b = await fn.api.resultFor(fn.api.invoke({ n: 'b' }));
  assert.deepEqual([a.body.count, a.body.n], [1, 'a']);
  assert.deepEqual([b.body.count, b.body.n], [2, 'b']);
  assert.equal(a.body.pid, fn.child.pid);
  assert.equal(b.body.pid, fn.child.pid);
  // It is back at /next, waiting for a third event, and still alive.
  await eventually(() => fn.api.nextCalls === 3);
  assert.equal(fn.child.exitCode, null);
});

test('events queued before the process asks are served one at a time', async (t) => {
  const fn = await startFunction(t, {
    handler: 'index.handler',
    files: { 'index.js': `exports.handler = async (e) => { await new Promise((r) => setTimeout(r, 20)); return e.i; };` },
  });
  const ids = [1, 2, 3].map((i) => fn.api.invoke({ i }));
  const posts = [];
  for (const id of ids) posts.push(await fn.api.resultFor(id));
  assert.deepEqual(posts.map((p) => p.body), [1, 2, 3]);
  assert.ok(posts[1].at >= posts[0].at && posts[2].at >= posts[1].at);
});

// ------------------------------------------------------------------------------------------------------------
// Output before the answer: Inlet logs what is in the pipes when the answer arrives
// ------------------------------------------------------------------------------------------------------------

test('events and acknowledgements sent with chunked transfer encoding are read whole', async (t) => {
  const fn = await startFunction(t, {
    handler: 'index.handler',
    chunked: true,
    files: { 'index.js': 'exports.handler = async (event) => ({ echo: event.text });\n' },
  });
  const text = 'é'.repeat(50000);
  for (const n of [1, 2, 3]) {
    const post = await fn.api.resultFor(fn.api.invoke({ text: text + n }));
    assert.deepEqual(post.body, { echo: text + n });
  }
});

test('an answer waits until output held back by a full pipe has been written', async (t) => {
  const fn = await startFunction(t, {
    handler: 'index.handler',
    files: {
      'index.js': `
exports.handler = async () => {
  console.log('x'.repeat(1024 * 1024));
  return 'done';
};
`,
    },
  });
  // Nobody reads stdout: the pipe fills, and Node keeps the rest of the line.
  fn.child.stdout.pause();
  const id = fn.api.invoke({});
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.equal(fn.api.posts.length, 0, 'answered while output was still held back');
  fn.child.stdout.resume();
  assert.equal((await fn.api.resultFor(id)).body, 'done');
  await eventually(() => fn.output.stdout.includes('x'.repeat(1024 * 1024)));
});

// ------------------------------------------------------------------------------------------------------------
// The Runtime API connection
// ------------------------------------------------------------------------------------------------------------

test('an answer and the next GET /next go out together, on one connection', async (t) => {
  const fn = await startFunction(t, {
    handler: 'index.handler',
    files: { 'index.js': 'exports.handler = async (event) => event.n;\n' },
    answerDelayMs: 300,
  });
  for (const n of [1, 2, 3]) {
    assert.equal((await fn.api.resultFor(fn.api.invoke({ n }))).body, n);
  }
  await eventually(() => fn.api.nextCalls === 4);
  assert.equal(fn.api.sockets.size, 1, 'every request on the one keep-alive connection');
  // Each /next after a post arrived before the post was answered (300 ms later): it did not wait for the answer.
  for (let i = 0; i < fn.api.requests.length - 1; i++) {
    const [post, next] = [fn.api.requests[i], fn.api.requests[i + 1]];
    if (post.method !== 'POST') continue;
    assert.match(next.url, /\/next$/);
    assert.ok(next.at - post.at < 250, `GET /next came ${next.at - post.at} ms after the post`);
  }
});

test('a post answered with Connection: close sends its pipelined GET /next again, on a new connection', async (t) => {
  const fn = await startFunction(t, {
    handler: 'index.handler',
    files: { 'index.js': 'exports.handler = async (event) => event.n;\n' },
    closeAfterAnswer: true,
  });
  for (const n of [1, 2, 3]) {
    assert.equal((await fn.api.resultFor(fn.api.invoke({ n }))).body, n);
  }
  await eventually(() => fn.api.parkedNext.length === 1);
  assert.equal(fn.child.exitCode, null, 'the bootstrap carries on');
  assert.ok(fn.api.sockets.size >= 3, `a connection per answer, got ${fn.api.sockets.size}`);
});
