// Bad input never hurts the daemon: every kind of malformed request gets an error
// reply (or the client is closed), while traffic through the listener and other
// control clients keep being served.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { converse, jsonRequest, textRequest } from './line-client.js';
import { startControlFixture, type ControlFixture } from './fixture.js';
import { waitFor, whoAnswers } from '../helpers/servers.js';

let f: ControlFixture;
let traffic: { stop(): Promise<{ ok: number; failures: string[] }> };

/** A bounded stream of client connections through the listener, recording failures. */
function steadyTraffic(port: number): typeof traffic {
  let running = true;
  let ok = 0;
  const failures: string[] = [];
  const loop = (async () => {
    const end = Date.now() + 60_000;
    while (running && Date.now() < end) {
      try {
        await whoAnswers(port, 3000);
        ok++;
      } catch (err) {
        failures.push(String(err));
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { ok, failures };
    },
  };
}

before(async () => {
  f = await startControlFixture();
  traffic = steadyTraffic(f.port);
});
after(async () => {
  const t = await traffic.stop();
  await f.close();
  assert.equal(t.failures.length, 0, `traffic failed during bad input: ${t.failures.slice(0, 3).join('; ')}`);
  assert.ok(t.ok > 10, `traffic kept flowing (${t.ok} connections)`);
});

test('malformed JSON gets E_BAD_REQUEST in JSON; the connection keeps working', async () => {
  const r = await converse(f.sock, '{"id":1,"cmd":\n{"id":2,"cmd":"show-info"}\n', (t) => t.split('\n').length > 2);
  const [first, second] = r.text
    .split('\n')
    .map((l) => (l ? (JSON.parse(l) as { id: unknown; ok: boolean; error?: { code: string } }) : null));
  assert.equal(first!.ok, false);
  assert.equal(first!.error!.code, 'E_BAD_REQUEST');
  assert.equal(second!.id, 2);
  assert.equal(second!.ok, true);
  for (const bad of [
    '{"id":1}',
    '{"id":1,"cmd":"show-info","extra":1}',
    '{"id":{},"cmd":"show-info"}',
    '{"id":1,"cmd":"show-info","args":[1]}',
    '[1,2]',
  ]) {
    const reply = await converse(f.sock, bad + '\n');
    const parsed = reply.text.startsWith('{')
      ? (JSON.parse(reply.text) as { ok: boolean; error: { code: string } })
      : null;
    if (parsed) assert.equal(parsed.error.code, 'E_BAD_REQUEST', bad);
    else assert.match(reply.text, /^error E_(BAD_REQUEST|UNKNOWN_COMMAND): /, bad);
  }
});

test('unknown command: E_UNKNOWN_COMMAND in text and in JSON (with the id)', async () => {
  assert.match(
    await textRequest(f.sock, 'frobnicate the backends'),
    /^error E_UNKNOWN_COMMAND: unknown command "frobnicate the"/,
  );
  const r = await jsonRequest(f.sock, { id: 'x1', cmd: 'frobnicate' });
  assert.deepEqual([r.id, r.ok, r.error?.code], ['x1', false, 'E_UNKNOWN_COMMAND']);
});

test('wrong arguments: E_BAD_ARGUMENT naming the argument', async () => {
  assert.match(
    await textRequest(f.sock, 'set weight web/b1 999'),
    /^error E_BAD_ARGUMENT: N: must be 1\.\.256, got 999/,
  );
  assert.match(
    await textRequest(f.sock, 'set state web/b1 sideways'),
    /^error E_BAD_ARGUMENT: STATE: expected one of ready, drain, maint/,
  );
  assert.match(await textRequest(f.sock, 'set state web/b1'), /^error E_BAD_ARGUMENT: STATE: missing/);
  assert.match(
    await textRequest(f.sock, 'set state b1 ready'),
    /^error E_BAD_ARGUMENT: POOL\/BACKEND: expected POOL\/BACKEND/,
  );
  assert.match(await textRequest(f.sock, 'show info please'), /^error E_BAD_ARGUMENT: unexpected argument "please"/);
  const r = await jsonRequest(f.sock, { id: 1, cmd: 'set-weight', args: { backend: 'web/b1', weight: 'heavy' } });
  assert.equal(r.error?.code, 'E_BAD_ARGUMENT');
  const typo = await jsonRequest(f.sock, { id: 2, cmd: 'set-weight', args: { backend: 'web/b1', wieght: 2 } });
  assert.match(typo.error!.message, /unknown argument "wieght"/);
  const algo = await jsonRequest(f.sock, { id: 3, cmd: 'set-algorithm', args: { pool: 'web', algorithm: 'fastest' } });
  assert.equal(algo.error?.code, 'E_BAD_ARGUMENT');
});

test('a JSON number given as a string is refused (E_BAD_ARGUMENT), and the weight stays as it was', async () => {
  const weight = (): number | undefined => f.d.daemon.snapshot().backends.find((b) => b.key === 'web/b1')?.weight;
  const before = weight();
  assert.notEqual(before, 5);
  const r = await jsonRequest(f.sock, { id: 4, cmd: 'set-weight', args: { backend: 'web/b1', weight: '5' } });
  assert.deepEqual([r.ok, r.error?.code], [false, 'E_BAD_ARGUMENT']);
  assert.match(r.error!.message, /^N: expected a JSON number, got a string "5"/);
  const t = await jsonRequest(f.sock, { id: 5, cmd: 'set-weight', args: { backend: 'web/b1', weight: true } });
  assert.match(t.error!.message, /^N: expected a JSON number, got a boolean "true"/);
  const limit = await jsonRequest(f.sock, { id: 6, cmd: 'show-events', args: { limit: '5' } });
  assert.equal(limit.error?.code, 'E_BAD_ARGUMENT');
  assert.equal(weight(), before, 'nothing changed');
  // typed words are text: the same value in a text command, or in `cmd`'s words, is a number
  assert.match(await textRequest(f.sock, 'set weight web/b1 5'), /weight 5/);
  assert.equal(weight(), 5);
  const words = await jsonRequest(f.sock, { id: 7, cmd: 'set weight web/b1 6' });
  assert.equal(words.ok, true);
  assert.equal(weight(), 6);
  // a JSON number is the one accepted form in `args`
  const ok = await jsonRequest(f.sock, { id: 8, cmd: 'set-weight', args: { backend: 'web/b1', weight: before } });
  assert.equal(ok.ok, true);
  assert.equal(weight(), before);
});

test('unknown backend, pool or listener: E_NOT_FOUND, and nothing changes', async () => {
  const before = JSON.stringify(f.d.daemon.snapshot().backends.map((b) => [b.key, b.admin, b.weight]));
  assert.match(await textRequest(f.sock, 'set state web/b9 drain'), /^error E_NOT_FOUND: /);
  assert.match(await textRequest(f.sock, 'set weight db/b1 2'), /^error E_NOT_FOUND: /);
  assert.match(await textRequest(f.sock, 'set algorithm db round_robin'), /^error E_NOT_FOUND: /);
  assert.match(await textRequest(f.sock, 'disable listener web'), /^error E_NOT_FOUND: /);
  assert.equal(JSON.stringify(f.d.daemon.snapshot().backends.map((b) => [b.key, b.admin, b.weight])), before);
});

test('an over-long line gets E_LINE_TOO_LONG and the connection is closed', async () => {
  const text = await converse(f.sock, 'show ' + 'x'.repeat(100 * 1024), () => false);
  assert.equal(text.closed, true);
  assert.match(text.text, /^error E_LINE_TOO_LONG: request line over 65536 bytes/);
  const json = await converse(f.sock, '{"id":1,"cmd":"' + 'y'.repeat(70 * 1024) + '"}\n', () => false);
  assert.equal(json.closed, true);
  assert.equal((JSON.parse(json.text.split('\n')[0]!) as { error: { code: string } }).error.code, 'E_LINE_TOO_LONG');
});

test('binary garbage gets error replies, never a crash', async () => {
  for (let i = 0; i < 20; i++) {
    const junk = Buffer.concat([randomBytes(200 + i * 37), Buffer.from('\n')]);
    const r = await converse(f.sock, junk, (t) => t.endsWith('\n\n') || t.endsWith('}\n'), 3000);
    assert.match(r.text, /E_BAD_REQUEST|E_UNKNOWN_COMMAND|E_BAD_ARGUMENT/);
  }
  const nul = await converse(f.sock, Buffer.from([0, 0xff, 0xfe, 0x0a]), (t) => t.endsWith('\n\n'));
  assert.match(nul.text, /^error E_BAD_REQUEST: the request line is not valid UTF-8/);
  assert.match(await textRequest(f.sock, 'show info'), /^Name:\s+netmon/m);
});

test('a client that connects and never finishes a line gets E_LINE_TIMEOUT and is closed', async () => {
  const s = await f.extraServer({ lineTimeoutMs: 300, idleTimeoutMs: 60_000 });
  for (const payload of ['', 'show inf']) {
    const start = Date.now();
    const r = await converse(s.address, payload, () => false, 5000);
    assert.equal(r.closed, true);
    assert.match(r.text, /^error E_LINE_TIMEOUT: no complete request line within 300 ms/);
    assert.ok(Date.now() - start >= 250, 'not closed before the line timeout');
  }
  await waitFor(() => s.stats().clients === 0, 2000, 'the slow clients forgotten');
  assert.equal(s.stats().closed.line_timeout, 2);
});

test('a line begun after a reply has the line timeout; a silent client the idle timeout', async () => {
  const s = await f.extraServer({ lineTimeoutMs: 300, idleTimeoutMs: 900 });
  const partial = await converse(s.address, 'show info\nshow', (t) => t.includes('E_LINE_TIMEOUT'), 5000);
  assert.match(partial.text, /^Name:\s+netmon/m);
  const start = Date.now();
  const silent = await converse(s.address, 'show info\n', () => false, 5000);
  assert.equal(silent.closed, true);
  assert.doesNotMatch(silent.text, /E_LINE_TIMEOUT/);
  assert.ok(Date.now() - start >= 850, 'after a reply, a silent client has the idle timeout');
  await waitFor(() => s.stats().closed.idle_timeout === 1, 2000, 'counted as idle');
});

test('a client that sends but never reads is dropped once its unsent replies pass the bound', async () => {
  const s = await f.extraServer({ maxBufferedBytes: 64 * 1024 });
  const c = net.createConnection({ path: s.address });
  await new Promise<void>((r) => c.once('connect', () => r()));
  c.pause();
  const closed = new Promise<void>((r) => c.once('close', () => r()));
  c.on('error', () => {});
  for (let i = 0; i < 400; i++) c.write('show stats\n');
  await waitFor(() => s.stats().dropped === 1, 5000, 'the client that does not read is dropped');
  // the client sees it as soon as it reads
  c.resume();
  await closed;
});

test('a client that pipelines faster than it reads is slowed down, not dropped: every reply comes, in order', async () => {
  const s = await f.extraServer({ maxBufferedBytes: 2 * 1024 * 1024 });
  const c = net.createConnection({ path: s.address });
  await new Promise<void>((r) => c.once('connect', () => r()));
  c.pause();
  c.on('error', () => {});
  const lines = 3000;
  c.write(Array.from({ length: lines }, (_, i) => JSON.stringify({ id: i, cmd: 'show-stats' }) + '\n').join(''));
  // it reads nothing for a while: 3,000 replies are far more than the bound
  await new Promise((r) => setTimeout(r, 500));
  let text = '';
  let ends = 0;
  c.setEncoding('utf8');
  const all = new Promise<void>((resolve, reject) => {
    c.on('data', (d: string) => {
      text += d;
      for (let at = d.indexOf('\n'); at !== -1; at = d.indexOf('\n', at + 1)) ends++;
      if (ends >= lines) resolve();
    });
    c.once('close', () => reject(new Error(`closed after ${ends} replies of ${lines}`)));
  });
  c.resume();
  await all;
  c.destroy();
  const ids = text
    .split('\n')
    .slice(0, lines)
    .map((l) => (JSON.parse(l) as { id: number }).id);
  assert.deepEqual(
    ids,
    Array.from({ length: lines }, (_, i) => i),
  );
  assert.ok(text.length > 2 * 1024 * 1024, `the replies (${text.length} bytes) are more than the bound`);
  assert.equal(s.stats().dropped, 0);
});

test('200 clients at once are all answered', async () => {
  const replies = await Promise.all(
    Array.from({ length: 200 }, (_, i) => jsonRequest(f.sock, { id: i, cmd: 'show-info' })),
  );
  assert.ok(replies.every((r, i) => r.ok && r.id === i));
});

/** `n` clients connected to `path`, each having sent `first` (nothing when empty) and got a first reply to it. */
async function holders(path: string, n: number, first = ''): Promise<net.Socket[]> {
  const out: net.Socket[] = [];
  for (let i = 0; i < n; i++) {
    const c = net.createConnection({ path });
    c.on('error', () => {});
    c.setEncoding('utf8');
    await new Promise<void>((r) => c.once('connect', () => r()));
    if (first) {
      // the first reply says the request is being served
      const answered = new Promise<void>((r) => c.once('data', () => r()));
      c.write(first);
      await answered;
    }
    out.push(c);
  }
  return out;
}

test('at the client limit the longest idle client makes room for a new one', async () => {
  const small = await f.extraServer({ maxClients: 20 });
  const idle = await holders(small.address, 20);
  const told = new Promise<string>((resolve) => {
    let text = '';
    idle[0]!.on('data', (d: string) => (text += d));
    idle[0]!.on('close', () => resolve(text));
  });
  try {
    await waitFor(() => small.stats().clients === 20, 2000, '20 clients held');
    assert.match(await textRequest(small.address, 'show info'), /^Name:\s+netmon/m);
    assert.match(await told, /^error E_TOO_MANY_CLIENTS: .*closing the longest idle one/);
    assert.equal(small.stats().closed.evicted, 1);
    assert.ok(
      idle.slice(1).every((c) => !c.destroyed && c.readyState === 'open'),
      'only the oldest was closed',
    );
    // a flood of new clients: each closes the longest idle one; the log gets a line, not one per client
    const warnings = (): number => f.d.logs.filter((l) => l.msg === 'control socket clients closed or refused').length;
    const before = warnings();
    // the `show info` client has gone: 19 held, so the first of 30 new ones takes the free place
    await waitFor(() => small.stats().clients === 19, 10_000, 'the answered client gone');
    idle.push(...(await holders(small.address, 30)));
    await waitFor(() => small.stats().accepted === 51, 10_000, '30 more clients accepted');
    assert.equal(small.stats().closed.evicted, 30, 'each new client past the limit closed the longest idle one');
    assert.equal(small.stats().clients, 20);
    assert.ok(warnings() - before <= 1, `${warnings() - before} warnings for 29 evictions`);
  } finally {
    for (const c of idle) c.destroy();
  }
});

test('at the client limit with every client busy (subscribed), a new one gets E_TOO_MANY_CLIENTS', async () => {
  const small = await f.extraServer({ maxClients: 20 });
  const busy = await holders(small.address, 20, '{"id":1,"cmd":"subscribe","args":{"interval":60000}}\n');
  try {
    await waitFor(() => small.stats().clients === 20, 2000, '20 subscribers held');
    const refused = await converse(small.address, 'show info\n', () => false);
    assert.match(refused.text, /^error E_TOO_MANY_CLIENTS: /);
    assert.equal(small.stats().rejected, 1);
    // the main socket is unaffected
    assert.match(await textRequest(f.sock, 'show info'), /^Name:\s+netmon/m);
  } finally {
    for (const c of busy) c.destroy();
  }
});

test('deeply nested JSON arguments get E_BAD_ARGUMENT, not E_INTERNAL', async () => {
  // 4,500 levels overflowed the stack when the value was shown in the message; 30,000 fit in a line
  for (const depth of [4500, 30_000]) {
    const nested = '['.repeat(depth) + ']'.repeat(depth);
    for (const args of [
      `{"backend":${nested},"weight":3}`,
      `{"backend":"web/b1","weight":${nested}}`,
      `{"backend":"web/b1","weight":{"a":${nested}}}`,
    ]) {
      const r = await converse(f.sock, `{"id":7,"cmd":"set-weight","args":${args}}\n`);
      const reply = JSON.parse(r.text) as { id: number; ok: boolean; error: { code: string; message: string } };
      assert.deepEqual([reply.id, reply.ok, reply.error.code], [7, false, 'E_BAD_ARGUMENT'], args.slice(0, 40));
      assert.match(reply.error.message, /got an (array|object)$/);
    }
  }
});
