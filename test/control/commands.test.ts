// Every control command, in JSON and in text, against a real daemon over its
// real control socket; each asserts the effect a user would see.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import type {
  BackendSnapshot,
  DaemonEvent,
  InfoSnapshot,
  ListenerSnapshot,
  PoolSnapshot,
} from '../../daemon/control/snapshot/snapshot.js';
import { converse, jsonRequest, textRequest } from './line-client.js';
import { startControlFixture, type ControlFixture } from './fixture.js';
import { whoAnswers } from '../helpers/servers.js';

let f: ControlFixture;
before(async () => {
  f = await startControlFixture();
});
after(async () => {
  await f.close();
});

const backend = (key: string): BackendSnapshot => f.d.daemon.snapshot().backends.find((b) => b.key === key)!;

test('the socket is created with mode 0660 in a directory created for it', () => {
  const st = statSync(f.sock);
  assert.ok(st.isSocket());
  assert.equal(st.mode & 0o777, 0o660);
});

test('show info: version, uptime, workers, config and generation, last reload', async () => {
  const r = await jsonRequest(f.sock, { id: 1, cmd: 'show-info' });
  assert.equal(r.id, 1);
  assert.equal(r.ok, true);
  const info = r.data as InfoSnapshot;
  assert.equal(info.name, 'netmon');
  assert.match(info.version, /^\d+\.\d+\.\d+/);
  assert.equal(typeof info.uptimeSeconds, 'number');
  assert.equal(info.workers, 2);
  assert.equal(info.configFile, 'test.toml');
  assert.ok(info.generation >= 1);
  const text = await textRequest(f.sock, 'show info');
  assert.match(text, /^Name:\s+netmon$/m);
  assert.match(text, /^Workers:\s+2$/m);
  assert.match(text, /^Generation:\s+\d+$/m);
  assert.match(text, /^Last reload:/m);
  assert.match(text, /^Health:\s+healthy$/m);
});

test('show stats, listeners, pools, backends (with and without a pool)', async () => {
  const stats = await jsonRequest(f.sock, { id: 'st', cmd: 'show stats' });
  assert.equal(stats.id, 'st');
  assert.equal((stats.data as { backends: unknown[] }).backends.length, 2);
  assert.match(await textRequest(f.sock, 'show stats'), /web\/b1/);

  const listeners = (await jsonRequest(f.sock, { id: 2, cmd: 'show-listeners' })).data as ListenerSnapshot[];
  assert.deepEqual(
    listeners.map((l) => [l.name, l.bind]),
    [['main', `127.0.0.1:${f.port}`]],
  );
  assert.match(await textRequest(f.sock, 'show listeners'), new RegExp(`main.*127\\.0\\.0\\.1:${f.port}`));

  const pools = (await jsonRequest(f.sock, { id: 3, cmd: 'show-pools' })).data as PoolSnapshot[];
  assert.deepEqual(
    pools.map((p) => [p.name, p.algorithm]),
    [['web', 'round_robin']],
  );
  assert.match(await textRequest(f.sock, 'show pools'), /^web\s/m);

  const all = (await jsonRequest(f.sock, { id: 4, cmd: 'show-backends' })).data as BackendSnapshot[];
  assert.deepEqual(all.map((b) => b.key).sort(), ['web/b1', 'web/b2']);
  const web = (await jsonRequest(f.sock, { id: 5, cmd: 'show-backends', args: { pool: 'web' } }))
    .data as BackendSnapshot[];
  assert.equal(web.length, 2);
  const text = await textRequest(f.sock, 'show backends web');
  assert.match(text, /^BACKEND\s+ADDRESS\s+STATE/);
  assert.match(text, new RegExp(`^web/b2\\s+127\\.0\\.0\\.1:${f.backends[1]!.port}\\s`, 'm'));
  const missing = await jsonRequest(f.sock, { id: 6, cmd: 'show-backends', args: { pool: 'nope' } });
  assert.equal(missing.error?.code, 'E_NOT_FOUND');
});

test('show alerts and show clients answer in both forms', async () => {
  const alerts = await jsonRequest(f.sock, { id: 1, cmd: 'show-alerts' });
  assert.equal(alerts.ok, true);
  assert.ok(Array.isArray(alerts.data));
  assert.match(await textRequest(f.sock, 'show alerts'), /\(no alerts\)|ALERT|firing|pending|resolved/i);
  const clients = await jsonRequest(f.sock, { id: 2, cmd: 'show-clients', args: { limit: 5 } });
  assert.equal(clients.ok, true);
  assert.ok(Array.isArray(clients.data));
  assert.ok((await textRequest(f.sock, 'show clients 5')).length > 0);
});

test('set state, enable / disable backend: admin state changes and show events records it', async () => {
  let r = await jsonRequest(f.sock, { id: 1, cmd: 'set-state', args: { backend: 'web/b1', state: 'drain' } });
  assert.equal(r.ok, true, JSON.stringify(r));
  assert.equal(backend('web/b1').admin, 'drain');
  assert.equal(await textRequest(f.sock, 'set state web/b1 maint'), 'web/b1: admin state maint');
  assert.equal(backend('web/b1').admin, 'maint');
  assert.equal(await textRequest(f.sock, 'enable backend web/b1'), 'web/b1: admin state ready');
  assert.equal(backend('web/b1').admin, 'ready');
  r = await jsonRequest(f.sock, { id: 2, cmd: 'disable-backend', args: { backend: 'web/b1' } });
  assert.equal(r.ok, true);
  assert.equal(backend('web/b1').admin, 'maint');
  // HAProxy spelling
  assert.equal(await textRequest(f.sock, 'set server web/b1 state ready'), 'web/b1: admin state ready');

  const events = (await jsonRequest(f.sock, { id: 3, cmd: 'show-events', args: { limit: 50 } })).data as DaemonEvent[];
  const states = events
    .filter((e) => e.type === 'state' && e.backend === 'web/b1')
    .map((e) => (e.type === 'state' ? e.to : ''));
  assert.deepEqual(states.slice(-5), ['drain', 'maint', 'ready', 'maint', 'ready']);
  assert.ok(events.some((e) => e.type === 'action' && e.command === 'set state web/b1 drain' && e.ok));
  const text = await textRequest(f.sock, 'show events 5');
  assert.match(text, /web\/b1/);
});

test('set weight and set algorithm change what the table serves with', async () => {
  assert.equal(
    (await jsonRequest(f.sock, { id: 1, cmd: 'set-weight', args: { backend: 'web/b2', weight: 7 } })).ok,
    true,
  );
  assert.equal(backend('web/b2').weight, 7);
  assert.equal(await textRequest(f.sock, 'set weight web/b2 3'), 'web/b2: weight 3');
  assert.equal(backend('web/b2').weight, 3);
  const r = await jsonRequest(f.sock, {
    id: 2,
    cmd: 'set-algorithm',
    args: { pool: 'web', algorithm: 'least_connections' },
  });
  assert.equal(r.ok, true);
  const pool = (): PoolSnapshot => f.d.daemon.snapshot().pools.find((p) => p.name === 'web')!;
  assert.equal(pool().algorithm, 'least_connections');
  assert.equal(await textRequest(f.sock, 'set algorithm web round_robin'), 'web: algorithm round_robin');
  assert.equal(pool().algorithm, 'round_robin');
  await jsonRequest(f.sock, { id: 3, cmd: 'set-weight', args: { backend: 'web/b2', weight: 1 } });
});

test('disable listener refuses new connections; enable listener accepts again', async () => {
  assert.match(await whoAnswers(f.port), /^b[12]$/);
  assert.equal((await jsonRequest(f.sock, { id: 1, cmd: 'disable-listener', args: { listener: 'main' } })).ok, true);
  assert.equal(f.d.daemon.snapshot().listeners[0]!.enabled, false);
  await assert.rejects(whoAnswers(f.port, 2000));
  assert.equal(await textRequest(f.sock, 'enable listener main'), 'main: enabled');
  assert.match(await whoAnswers(f.port), /^b[12]$/);
  const nope = await jsonRequest(f.sock, { id: 2, cmd: 'disable-listener', args: { listener: 'nope' } });
  assert.equal(nope.error?.code, 'E_NOT_FOUND');
});

test('reload answers when done, in JSON and in text', async () => {
  const gen = f.d.daemon.topology.generation;
  const r = await jsonRequest(f.sock, { id: 9, cmd: 'reload' });
  assert.equal(r.ok, true, JSON.stringify(r));
  assert.equal((r.data as { generation: number }).generation, gen + 1);
  assert.equal(await textRequest(f.sock, 'reload'), `reload ok, generation ${gen + 2}\n  no changes`);
});

test('subscribe streams snapshots at the interval and events as they happen; several at once', async () => {
  const events: DaemonEvent[] = [];
  const collect = (interval: number, asText: boolean): Promise<{ snapshots: number; events: DaemonEvent[] }> =>
    converse(
      f.sock,
      asText ? `subscribe ${interval}\n` : JSON.stringify({ id: 's', cmd: 'subscribe', args: { interval } }) + '\n',
      (t) => {
        const lines = t.split('\n').filter(Boolean);
        return lines.length >= 4 && lines.some((l) => l.includes('"type":"event"'));
      },
      8000,
    ).then((r) => {
      const lines = r.text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { ok: boolean; data: { type: string; event?: DaemonEvent } });
      assert.ok(lines.every((l) => l.ok));
      const evs = lines.filter((l) => l.data.type === 'event').map((l) => l.data.event!);
      events.push(...evs);
      return { snapshots: lines.filter((l) => l.data.type === 'snapshot').length, events: evs };
    });
  const a = collect(100, false);
  const b = collect(100, true);
  await new Promise((r) => setTimeout(r, 250));
  await textRequest(f.sock, 'set state web/b2 drain');
  const [ra, rb] = await Promise.all([a, b]);
  await textRequest(f.sock, 'set state web/b2 ready');
  for (const r of [ra, rb]) {
    assert.ok(r.snapshots >= 2, `snapshots: ${r.snapshots}`);
    assert.ok(r.events.some((e) => e.type === 'state' && e.backend === 'web/b2' && e.to === 'drain'));
  }
  const tooFast = await jsonRequest(f.sock, { id: 1, cmd: 'subscribe', args: { interval: 5 } });
  assert.equal(tooFast.error?.code, 'E_BAD_ARGUMENT');
});

test('help lists every command; quit closes the connection', async () => {
  const help = (await jsonRequest(f.sock, { id: 1, cmd: 'help' })).data as { cmd: string; usage: string }[];
  for (const c of [
    'show-info',
    'show-events',
    'set-state',
    'set-weight',
    'set-algorithm',
    'enable-listener',
    'reload',
    'subscribe',
  ]) {
    assert.ok(
      help.some((h) => h.cmd === c),
      c,
    );
  }
  assert.match(await textRequest(f.sock, 'help'), /^set state POOL\/BACKEND ready\|drain\|maint\s/m);
  const q = await converse(f.sock, 'quit\nshow info\n', () => false);
  assert.equal(q.closed, true);
  assert.equal(q.text, '');
});

test('docs/control.md documents exactly the commands of the command table', async () => {
  const help = (await jsonRequest(f.sock, { id: 1, cmd: 'help' })).data as { cmd: string }[];
  const doc = readFileSync(new URL('../../../docs/control.md', import.meta.url), 'utf8');
  const documented = new Set<string>();
  const section = doc.slice(doc.indexOf('## Commands'));
  for (const line of section.slice(0, section.indexOf('\n## ', 3)).split('\n')) {
    // the JSON column: `show-backends` `{pool?}`, or two commands `enable-listener` / `disable-listener`
    const cells = line.split(/(?<!\\)\|/).map((c) => c.trim());
    if (!cells[1]?.startsWith('`')) continue; // the header and its rule
    const json = cells[2] ?? '';
    for (const m of json.matchAll(/`([a-z]+(?:-[a-z]+)*)`/g)) documented.add(m[1]!);
  }
  assert.deepEqual([...documented].sort(), help.map((h) => h.cmd).sort());
});
