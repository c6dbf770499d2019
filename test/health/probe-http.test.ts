import { test } from 'node:test';
import assert from 'node:assert/strict';
import type http from 'node:http';
import { AGENT_MAX_BODY, hostHeader, probeHttp } from '../../daemon/control/health/probe-http.js';
import type { HttpCheck } from '../../daemon/control/health/probe-types.js';
import { once } from 'node:events';
import type net from 'node:net';
import { closedPort, httpServer, resources, settledTo, tcpServer } from './net-helpers.js';

const check = (over: Partial<HttpCheck> = {}): HttpCheck => ({
  type: 'http',
  path: '/health',
  expectStatus: 200,
  host: '',
  interval: 1000,
  timeout: 1000,
  rise: 2,
  fall: 3,
  ...over,
});

test('http probe sends GET path with Host and Connection: close, succeeds on the expected status', async () => {
  const seen: http.IncomingMessage[] = [];
  const srv = await httpServer((req, res) => {
    seen.push(req);
    res.end('ok');
  });
  try {
    const before = resources();
    const target = { host: '127.0.0.1', port: srv.port };
    const r = await probeHttp(target, check());
    assert.equal(r.ok, true, r.detail);
    assert.equal(r.detail, 'HTTP 200');
    assert.equal(r.agent, undefined);
    assert.equal(seen[0]!.method, 'GET');
    assert.equal(seen[0]!.url, '/health');
    assert.equal(seen[0]!.headers.host, `127.0.0.1:${srv.port}`);
    assert.equal(seen[0]!.headers.connection, 'close');
    const r2 = await probeHttp(target, check({ host: 'app.example', path: '/ready?full=1' }));
    assert.equal(r2.ok, true);
    assert.equal(seen[1]!.headers.host, 'app.example');
    assert.equal(seen[1]!.url, '/ready?full=1');
    assert.ok(await settledTo(before), 'a socket or timer was left open');
  } finally {
    await srv.close();
  }
});

test('http probe fails on a status other than expect_status', async () => {
  const srv = await httpServer((_req, res) => {
    res.statusCode = 503;
    res.end('{"cpu": 99}');
  });
  try {
    const r = await probeHttp({ host: '127.0.0.1', port: srv.port }, check());
    assert.equal(r.ok, false);
    assert.equal(r.detail, 'HTTP 503, expected 200');
    const r2 = await probeHttp({ host: '127.0.0.1', port: srv.port }, check({ expectStatus: 503 }));
    assert.equal(r2.ok, true, 'expect_status is compared exactly, not as "2xx"');
  } finally {
    await srv.close();
  }
});

test('http probe returns agent data from a JSON body', async () => {
  let body = '';
  const srv = await httpServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(body);
  });
  const target = { host: '127.0.0.1', port: 0 };
  try {
    target.port = srv.port;
    body = JSON.stringify({ status: 'ok', cpu: 12.5, memory: 40, connections: 7 });
    assert.deepEqual((await probeHttp(target, check())).agent, { cpu: 12.5, memory: 40, connections: 7 });
    // invalid fields are dropped one by one: a string, a percent over 100, a negative count
    body = JSON.stringify({ cpu: 'high', memory: 150, connections: -1 });
    const r = await probeHttp(target, check());
    assert.equal(r.ok, true);
    assert.equal(r.agent, undefined);
    body = JSON.stringify({ memory: 55.5 });
    assert.deepEqual((await probeHttp(target, check())).agent, { memory: 55.5 });
    body = '{not json';
    const bad = await probeHttp(target, check());
    assert.equal(bad.ok, true, 'a body that is not JSON does not fail the check');
    assert.equal(bad.agent, undefined);
  } finally {
    await srv.close();
  }
});

test('http probe does not read a body over the agent cap: healthy by status, agent data ignored', async () => {
  const srv = await httpServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    // valid JSON, but larger than the cap (framed by Content-Length)
    res.end(JSON.stringify({ cpu: 5, pad: 'x'.repeat(AGENT_MAX_BODY * 3) }));
  });
  try {
    const before = resources();
    const r = await probeHttp({ host: '127.0.0.1', port: srv.port }, check());
    assert.equal(r.ok, true, r.detail);
    assert.match(r.detail, /^HTTP 200, body of \d+ bytes not read \(agent data up to 8192\)$/);
    assert.equal(r.agent, undefined);
    assert.ok(await settledTo(before), 'a socket or timer was left open');
  } finally {
    await srv.close();
  }
});

test('http probe times out when the backend never answers, and leaves nothing behind', async () => {
  const srv = await httpServer(() => {
    /* never responds */
  });
  try {
    const before = resources();
    const r = await probeHttp({ host: '127.0.0.1', port: srv.port }, check({ timeout: 300 }));
    assert.equal(r.ok, false);
    assert.match(r.detail, /^timeout after 300 ms \(response\)$/);
    assert.ok(r.durationMs >= 250 && r.durationMs < 5000, `took ${r.durationMs}`);
    assert.ok(await settledTo(before), 'a socket or timer was left open');
  } finally {
    await srv.close();
  }
});

test('http probe: a framed agent body that stalls leaves the backend healthy, without agent data', async () => {
  let closed: Promise<unknown> = Promise.resolve();
  const srv = await httpServer((req, res) => {
    closed = once(req.socket, 'close');
    res.write('{"cpu":');
  });
  try {
    const r = await probeHttp({ host: '127.0.0.1', port: srv.port }, check({ timeout: 300 }));
    assert.equal(r.ok, true, r.detail);
    assert.equal(r.detail, 'HTTP 200, agent body incomplete after 300 ms, ignored');
    assert.equal(r.agent, undefined);
    await closed;
  } finally {
    await srv.close();
  }
});

test('http probe fails on a refused connection and on a path it cannot send', async () => {
  const port = await closedPort();
  const r = await probeHttp({ host: '127.0.0.1', port }, check());
  assert.equal(r.ok, false);
  assert.match(r.detail, /ECONNREFUSED/);
  const bad = await probeHttp({ host: '127.0.0.1', port }, check({ path: '/a b' }));
  assert.equal(bad.ok, false, 'an invalid path is a failed probe, not a throw');
});

test('default Host header brackets IPv6 and omits port 80', () => {
  assert.equal(hostHeader({ host: '::1', port: 8080 }), '[::1]:8080');
  assert.equal(hostHeader({ host: '10.0.0.1', port: 80 }), '10.0.0.1');
});

/** A raw server answering every probe with `head`, then running `body` on the socket; resolves each socket's close. */
async function rawServer(head: string, body: (sock: net.Socket) => void = () => {}) {
  const closes: Promise<unknown>[] = [];
  const srv = await tcpServer((sock) => {
    // resolved on close whatever ended it (a reset from the probe's destroy included)
    closes.push(new Promise((r) => sock.on('close', r)));
    sock.once('data', () => {
      sock.write(head);
      body(sock);
    });
  });
  return { ...srv, closes };
}

/** Writes `piece` whenever the socket drains, until it closes: a body that never ends. */
function endless(sock: net.Socket, piece: string | (() => string)): void {
  const next = (): string => (typeof piece === 'string' ? piece : piece());
  const pump = (): void => {
    while (!sock.destroyed && sock.write(next()));
  };
  sock.on('drain', pump);
  pump();
}

test('http probe decides on the status line: 200 without Content-Length on a connection kept open is healthy, and closed', async () => {
  // the server never ends the body nor closes: only the probe can close the connection
  const srv = await rawServer('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n');
  try {
    const before = resources();
    const r = await probeHttp({ host: '127.0.0.1', port: srv.port }, check({ timeout: 5000 }));
    assert.equal(r.ok, true, r.detail);
    assert.equal(r.detail, 'HTTP 200');
    assert.equal(r.agent, undefined);
    assert.equal(srv.closes.length, 1);
    await srv.closes[0];
    assert.ok(await settledTo(before), 'a socket or timer was left open');
  } finally {
    await srv.close();
  }
});

test('http probe decides on the status line: an endless unframed body is healthy, and the connection closed', async () => {
  const srv = await rawServer('HTTP/1.1 200 OK\r\n\r\n', (sock) => endless(sock, 'data '.repeat(200)));
  try {
    const r = await probeHttp({ host: '127.0.0.1', port: srv.port }, check({ timeout: 5000 }));
    assert.equal(r.ok, true, r.detail);
    assert.equal(r.detail, 'HTTP 200');
    await srv.closes[0];
  } finally {
    await srv.close();
  }
});

test('http probe: an endless chunked body is read up to the agent cap only, healthy, and the connection closed', async () => {
  const chunk = '{"cpu": 1}'.repeat(50);
  const srv = await rawServer('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', (sock) =>
    endless(sock, () => `${chunk.length.toString(16)}\r\n${chunk}\r\n`),
  );
  try {
    const r = await probeHttp({ host: '127.0.0.1', port: srv.port }, check({ timeout: 5000 }));
    assert.equal(r.ok, true, r.detail);
    assert.equal(r.detail, `HTTP 200, body over ${AGENT_MAX_BODY} bytes not read`);
    assert.equal(r.agent, undefined);
    await srv.closes[0];
  } finally {
    await srv.close();
  }
});

test('http probe: a Content-Length past the cap is not waited for, even when the body trickles', async () => {
  const srv = await rawServer('HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n{"cpu": 3');
  try {
    const r = await probeHttp({ host: '127.0.0.1', port: srv.port }, check({ timeout: 5000 }));
    assert.equal(r.ok, true, r.detail);
    assert.equal(r.detail, 'HTTP 200, body of 1000000000 bytes not read (agent data up to 8192)');
    await srv.closes[0];
  } finally {
    await srv.close();
  }
});

test('http probe: a framed agent body is still applied, by Content-Length or chunked, and the connection closed', async () => {
  const json = JSON.stringify({ cpu: 21, memory: 33, connections: 4 });
  const half = json.length >> 1;
  const chunked =
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n' +
    `${half.toString(16)}\r\n${json.slice(0, half)}\r\n` +
    `${(json.length - half).toString(16)}\r\n${json.slice(half)}\r\n0\r\n\r\n`;
  const sized = `HTTP/1.1 200 OK\r\nContent-Length: ${json.length}\r\n\r\n${json}`;
  for (const head of [chunked, sized]) {
    // the server keeps its side open after the body: the framing, not a close, ends it
    const srv = await rawServer(head);
    try {
      const r = await probeHttp({ host: '127.0.0.1', port: srv.port }, check({ timeout: 5000 }));
      assert.equal(r.ok, true, r.detail);
      assert.equal(r.detail, 'HTTP 200');
      assert.deepEqual(r.agent, { cpu: 21, memory: 33, connections: 4 });
      await srv.closes[0];
    } finally {
      await srv.close();
    }
  }
});

test('bytes past a complete response do not change the verdict, however the segments fall', async () => {
  // found by `make fuzz`: 4 bytes past Content-Length on an HTTP/1.0 response made the probe fail
  // when they came in the body's segment (a parse error) and pass when they came after it
  const head = 'HTTP/1.0 200 OK\r\nContent-Length: 29\r\n\r\n';
  const body = '{"cpu": 12.5, "memory": 40.0}';
  for (const split of [false, true]) {
    const srv = await tcpServer((s) => {
      s.on('error', () => {});
      s.once('data', () => {
        if (!split) return s.end(head + body + 'junk');
        s.write(head + body);
        setTimeout(() => s.end('junk'), 50);
      });
    });
    try {
      const r = await probeHttp({ host: '127.0.0.1', port: srv.port }, check());
      assert.deepEqual([r.ok, r.detail, r.agent], [true, 'HTTP 200', { cpu: 12.5, memory: 40 }], `split ${split}`);
    } finally {
      await srv.close();
    }
  }
});

test('only an HTTP/1.0 or HTTP/1.1 status line can make a backend healthy', async () => {
  // found by `make fuzz`: Node's parser reads `HTTP/2.0 200` as a response, and the probe took it as healthy
  const answers: [string, boolean][] = [
    ['HTTP/2.0 200 OK', false],
    ['HTTP/0.9 200 OK', false],
    ['HTTP/1.0 200 OK', true],
    ['HTTP/1.1 200 OK', true],
  ];
  for (const [line, ok] of answers) {
    const srv = await tcpServer((s) => {
      s.on('error', () => {});
      s.once('data', () => s.end(`${line}\r\nContent-Length: 2\r\n\r\nok`));
    });
    try {
      const r = await probeHttp({ host: '127.0.0.1', port: srv.port }, check());
      assert.equal(r.ok, ok, `${line}: ${r.detail}`);
    } finally {
      await srv.close();
    }
  }
});
