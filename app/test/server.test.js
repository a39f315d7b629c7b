'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');

const { start, parsePort, KEEP_ALIVE_TIMEOUT_MS, HEADERS_TIMEOUT_MS } = require('../server');

const SERVER_JS = path.join(__dirname, '..', 'server.js');

// GET a path; resolves { status, headers, body } once the body is complete.
function get(port, urlPath, agent) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => { body += chunk; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('error', reject);
  });
}

async function withServer(options, fn) {
  const srv = await start({ port: 0, host: '127.0.0.1', ...options });
  try {
    await fn(srv);
  } finally {
    await srv.shutdown();
  }
}

test('GET / names the backend and release in the page and the headers', async () => {
  await withServer({ hostname: 'app-1', release: 'a1b2c3' }, async ({ address }) => {
    const res = await get(address.port, '/');
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'], /^text\/html/);
    assert.equal(res.headers['x-wayshub-backend'], 'app-1');
    assert.equal(res.headers['x-wayshub-release'], 'a1b2c3');
    assert.equal(res.headers['x-powered-by'], undefined);
    assert.match(res.body, /<strong id="backend">app-1<\/strong>/);
    assert.match(res.body, /<code id="release">a1b2c3<\/code>/);
  });
});

test('with a log function, every request is logged once with method, path and status', async () => {
  const lines = [];
  await withServer({ log: (line) => lines.push(line) }, async ({ address }) => {
    await get(address.port, '/?who=me');
    await get(address.port, '/nope');
  });
  assert.deepEqual(lines, ['GET /?who=me 200', 'GET /nope 404']);
});

test('GET / escapes the release id in HTML', async () => {
  await withServer({ hostname: 'app-1', release: '<script>x</script>' }, async ({ address }) => {
    const res = await get(address.port, '/');
    assert.ok(!res.body.includes('<script>'));
    assert.match(res.body, /&lt;script&gt;x&lt;\/script&gt;/);
  });
});

test('GET /health returns status, version and hostname as JSON', async () => {
  await withServer({ hostname: 'app-2', release: 'r42' }, async ({ address }) => {
    const res = await get(address.port, '/health');
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'], /^application\/json/);
    assert.deepEqual(JSON.parse(res.body), { status: 'ok', version: 'r42', hostname: 'app-2' });
    assert.equal(res.headers['x-wayshub-backend'], 'app-2');
    assert.equal(res.headers['x-wayshub-release'], 'r42');
  });
});

test('unknown paths are 404', async () => {
  await withServer({}, async ({ address }) => {
    const res = await get(address.port, '/nope');
    assert.equal(res.status, 404);
  });
});

test('keep-alive outlives the nginx upstream keepalive_timeout (60s)', async () => {
  assert.ok(KEEP_ALIVE_TIMEOUT_MS > 60000);
  assert.ok(HEADERS_TIMEOUT_MS > KEEP_ALIVE_TIMEOUT_MS);
  await withServer({}, async ({ server }) => {
    assert.equal(server.keepAliveTimeout, KEEP_ALIVE_TIMEOUT_MS);
    assert.equal(server.headersTimeout, HEADERS_TIMEOUT_MS);
  });
});

test('parsePort accepts 0-65535 and rejects anything else', () => {
  assert.equal(parsePort('3000'), 3000);
  assert.equal(parsePort('0'), 0);
  for (const bad of ['', 'abc', '-1', '65536', '3000; rm -rf /', '1.5']) {
    assert.throws(() => parsePort(bad), /PORT must be an integer/, bad);
  }
});

test('shutdown finishes in-flight requests and stops accepting new ones', async () => {
  const srv = await start({ port: 0, host: '127.0.0.1', hostname: 'app-3', release: 'r1' });
  const { app, address } = srv;
  let arrived;
  const requestArrived = new Promise((resolve) => { arrived = resolve; });
  app.get('/slow', (req, res) => {
    arrived();
    setTimeout(() => res.send('done'), 300);
  });
  const agent = new http.Agent({ keepAlive: true });
  // An idle keep-alive connection must not hold the shutdown open.
  await get(address.port, '/health', agent);
  const inFlight = get(address.port, '/slow', new http.Agent({ keepAlive: true }));
  await requestArrived;

  const started = Date.now();
  const clean = await srv.shutdown();
  const res = await inFlight;

  assert.equal(clean, true, 'drained without forcing connections closed');
  assert.ok(Date.now() - started < 2000, 'drained well inside the 5s budget');
  assert.equal(res.status, 200);
  assert.equal(res.body, 'done');
  assert.equal(res.headers.connection, 'close');
  await assert.rejects(get(address.port, '/health'), { code: 'ECONNREFUSED' });
  agent.destroy();
});

test('shutdown force-closes connections that outlast the timeout', async () => {
  const srv = await start({ port: 0, host: '127.0.0.1', shutdownTimeoutMs: 200 });
  let arrived;
  const requestArrived = new Promise((resolve) => { arrived = resolve; });
  srv.app.get('/hang', () => arrived());
  const hung = get(srv.address.port, '/hang');
  await requestArrived;
  assert.equal(await srv.shutdown(), false);
  await assert.rejects(hung, { code: 'ECONNRESET' });
});

test('node server.js uses env defaults and exits 0 on SIGTERM', async () => {
  const env = { ...process.env, PORT: '0', HOST: '127.0.0.1' };
  delete env.WAYSHUB_RELEASE;
  const child = spawn(process.execPath, [SERVER_JS], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  try {
    const port = await new Promise((resolve, reject) => {
      let out = '';
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (chunk) => {
        out += chunk;
        const m = out.match(/^wayshub dev listening on 127\.0\.0\.1:(\d+)$/m);
        if (m) resolve(Number(m[1]));
      });
      child.on('exit', () => reject(new Error(`server exited early: ${out}`)));
    });
    const agent = new http.Agent({ keepAlive: true });
    const res = await get(port, '/health', agent);
    assert.deepEqual(JSON.parse(res.body), { status: 'ok', version: 'dev', hostname: os.hostname() });

    const started = Date.now();
    child.kill('SIGTERM');
    assert.deepEqual(await exited, { code: 0, signal: null });
    assert.ok(Date.now() - started < 5000, 'exited within the 5s budget');
    agent.destroy();
  } finally {
    child.kill('SIGKILL');
  }
});

test('node server.js refuses an invalid PORT', async () => {
  const env = { ...process.env, PORT: 'http' };
  const child = spawn(process.execPath, [SERVER_JS], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => { err += chunk; });
  const code = await new Promise((resolve) => child.on('exit', resolve));
  assert.equal(code, 1);
  assert.match(err, /PORT must be an integer 0-65535, got "http"/);
});
