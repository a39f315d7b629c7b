'use strict';

// wayshub sample site. Every response names the backend that served it, so a
// request through the load balancer shows the round-robin at work.
//
// Environment:
//   PORT             port to listen on (default 3000; 0 picks a free port)
//   HOST             address to bind (default 0.0.0.0)
//   WAYSHUB_RELEASE  release id shown on the page and by /health (default: the
//                    RELEASE file a wayshub-infra release carries, else "dev")
//   LOG_REQUESTS     1: one log line per request ("GET /path 200"), for reading
//                    which backend served what (off by default: load tests)

const fs = require('fs');
const os = require('os');
const path = require('path');
const express = require('express');

// Longer than nginx's upstream keepalive_timeout (60s by default), so nginx
// always closes an idle upstream connection before we do and never sends a
// request down a socket we are closing.
const KEEP_ALIVE_TIMEOUT_MS = 65000;
const HEADERS_TIMEOUT_MS = 66000;
const SHUTDOWN_TIMEOUT_MS = 5000;

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({
    '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
  })[c]);
}

function parsePort(value) {
  const port = Number(value);
  if (!/^\d+$/.test(String(value)) || port > 65535) {
    throw new Error(`PORT must be an integer 0-65535, got ${JSON.stringify(value)}`);
  }
  return port;
}

function createApp({ hostname = os.hostname(), release = 'dev', log = null } = {}) {
  const app = express();
  app.disable('x-powered-by');
  app.locals.shuttingDown = false;

  if (log) {
    app.use((req, res, next) => {
      res.on('finish', () => log(`${req.method} ${req.originalUrl} ${res.statusCode}`));
      next();
    });
  }

  app.use((req, res, next) => {
    res.set('X-Wayshub-Backend', hostname);
    res.set('X-Wayshub-Release', release);
    res.set('Cache-Control', 'no-store');
    // A response that goes out while we drain closes its connection, so the
    // client (nginx) never reuses a socket we are about to shut.
    const writeHead = res.writeHead;
    res.writeHead = function writeHeadDraining(...args) {
      if (app.locals.shuttingDown) this.setHeader('Connection', 'close');
      return writeHead.apply(this, args);
    };
    next();
  });

  app.get('/', (req, res) => {
    const host = escapeHtml(hostname);
    const rel = escapeHtml(release);
    res.type('html').send(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>wayshub</title></head>
<body>
<h1>wayshub</h1>
<p>Served by backend <strong id="backend">${host}</strong>, release <code id="release">${rel}</code>.</p>
</body>
</html>
`);
  });

  app.get('/health', (req, res) => {
    res.json({ status: 'ok', version: release, hostname });
  });

  return app;
}

// Start listening; resolves once the socket is bound. `shutdown()` stops
// accepting, lets in-flight requests finish, and force-closes whatever is left
// after `shutdownTimeoutMs`. It resolves true on a clean drain, false if forced.
function start({
  port = 3000,
  host = '0.0.0.0',
  hostname = os.hostname(),
  release = 'dev',
  shutdownTimeoutMs = SHUTDOWN_TIMEOUT_MS,
  log = null,
} = {}) {
  const app = createApp({ hostname, release, log });
  const server = app.listen(port, host);
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = HEADERS_TIMEOUT_MS;

  let closing = null;
  function shutdown() {
    if (closing) return closing;
    app.locals.shuttingDown = true;
    closing = new Promise((resolve) => {
      // Idle keep-alive sockets would otherwise hold close() open until they
      // time out. Busy ones finish their response first (with Connection:
      // close), then go idle and are swept here.
      const sweep = setInterval(() => server.closeIdleConnections(), 100);
      const timer = setTimeout(() => {
        server.closeAllConnections();
        resolve(false);
      }, shutdownTimeoutMs);
      sweep.unref();
      timer.unref();
      server.close(() => {
        clearInterval(sweep);
        clearTimeout(timer);
        resolve(true);
      });
      server.closeIdleConnections();
    });
    return closing;
  }

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.once('listening', () => {
      server.off('error', reject);
      resolve({ app, server, shutdown, address: server.address() });
    });
  });
}

// A deployed release carries its id in RELEASE next to this file, so switching the
// `current` symlink and restarting is all it takes for /health to report the new id.
function releaseFromFile() {
  try {
    return fs.readFileSync(path.join(__dirname, 'RELEASE'), 'utf8').trim() || null;
  } catch {
    return null;
  }
}

async function main() {
  const env = process.env;
  const release = env.WAYSHUB_RELEASE || releaseFromFile() || 'dev';
  const { shutdown, address } = await start({
    port: parsePort(env.PORT || '3000'),
    host: env.HOST || '0.0.0.0',
    release,
    log: env.LOG_REQUESTS === '1' ? (line) => console.log(line) : null,
  });
  console.log(`wayshub ${release} listening on ${address.address}:${address.port}`);

  const onSignal = async (signal) => {
    console.log(`${signal} received, draining connections`);
    const clean = await shutdown();
    console.log(clean ? 'drained, exiting' : 'drain timed out, connections closed');
    process.exit(0);
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err.message);
    process.exit(1);
  });
}

module.exports = { createApp, start, parsePort, KEEP_ALIVE_TIMEOUT_MS, HEADERS_TIMEOUT_MS };
