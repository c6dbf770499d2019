// Component tests: the dashboard rendered by ink-testing-library from a store
// fed with fake-daemon snapshots; keys typed on its stdin; frames asserted.
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { createElement } from 'react';
import { NetmonError } from '../../daemon/errors.js';
import { KEYS } from '../../tui/keys.js';
import { initialState } from '../../tui/reducer.js';
import { createStore, type Store } from '../../tui/store.js';
import { DashboardContext } from './fake-daemon.js';

// colours are asserted too: chalk decides on colour support when it loads
process.env.FORCE_COLOR = '1';
const { render } = await import('ink-testing-library');
const { App } = await import('../../tui/app.js');

const ESC = '\u001b';
const strip = (s: string): string => s.replace(/\u001b\[[0-9;]*m/g, '');

// a failed assertion must not leave a mounted app (and its timers) behind
const mounted: Array<{ unmount(): void }> = [];
afterEach(() => {
  for (const a of mounted.splice(0)) a.unmount();
});

interface Sent {
  cmd: string;
  args: Record<string, unknown>;
}

function mount(
  opts: { ctx?: DashboardContext; readOnly?: boolean; size?: { columns: number; rows: number }; fail?: boolean } = {},
) {
  const ctx = opts.ctx ?? new DashboardContext(3);
  const store: Store = createStore(initialState('/tmp/fake.sock', Date.now()));
  store.dispatch({ type: 'connected', time: Date.now() });
  ctx.advance();
  store.dispatch({ type: 'snapshot', snapshot: structuredClone(ctx.snapshot()) });
  const sent: Sent[] = [];
  const link = {
    send: async (cmd: string, args: Record<string, unknown>) => {
      sent.push({ cmd, args });
      if (opts.fail) throw new NetmonError('E_NOT_FOUND', 'no backend named "web/b1"');
      return { message: `${String(args.backend)}: admin state ${String(args.state)}` };
    },
    refreshClients: async () => {
      store.dispatch({ type: 'clients', clients: [{ address: '10.1.2.3', active: 2, connections: 77, rejected: 0 }] });
    },
  };
  const app = render(
    createElement(App, {
      store,
      link,
      readOnly: opts.readOnly ?? false,
      keysEnabled: true,
      refreshMs: 10,
      clientsMs: 50,
      size: opts.size ?? { columns: 100, rows: 30 },
    }),
  );
  mounted.push(app);
  const frame = (): string => app.lastFrame() ?? '';
  const until = async (cond: (text: string) => boolean, what: string): Promise<string> => {
    const end = Date.now() + 3000;
    for (;;) {
      const f = strip(frame());
      if (cond(f)) return f;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last frame:\n${f}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  const type = async (...keys: string[]): Promise<void> => {
    for (const k of keys) {
      app.stdin.write(k);
      // one read per key, as a terminal delivers them
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return { app, ctx, store, sent, frame, until, type };
}

function lineWith(frame: string, text: string): string {
  return frame.split('\n').find((l) => strip(l).includes(text)) ?? '';
}

test('overview shows every backend with its state, coloured: up green, down red, drain yellow, maint blue', async () => {
  const ctx = new DashboardContext(3);
  ctx.backend('db/b2').op = 'down';
  ctx.backend('web/b2').admin = 'drain';
  ctx.backend('web/b3').admin = 'maint';
  const t = mount({ ctx });
  const f = await t.until((x) => x.includes('pool db'), 'the overview');
  for (const s of ['listener web', 'pool web', '3/3 up', 'drain', 'maint', 'down']) assert.ok(f.includes(s), s);
  const raw = t.frame();
  const green = '\u001b[32m';
  const red = '\u001b[31m';
  const yellow = '\u001b[33m';
  const blue = '\u001b[34m';
  assert.ok(lineWith(raw, 'drain').includes(`${yellow}drain`), 'drain is yellow');
  assert.ok(lineWith(raw, 'maint').includes(`${blue}maint`), 'maint is blue');
  assert.ok(lineWith(raw, '  b1').includes(`${green}up`), 'up is green');
  // the down backend's whole row is red, name included
  assert.ok(lineWith(raw, 'down').includes(`${red}  b2`), 'down row is red');
  assert.match(f, /alerts 1/);
});

test('overview: the weight is effective/configured under EFF/CFG, and a starting backend keeps its row in line', async () => {
  const ctx = new DashboardContext(3);
  const b = ctx.backend('web/b2');
  b.op = 'starting';
  b.weight = 100;
  b.effectiveWeight = 21;
  const t = mount({ ctx });
  const f = await t.until((x) => x.includes('starting'), 'the starting backend');
  const head = lineWith(f, 'EFF/CFG');
  assert.ok(!head.includes('WEIGHT '), 'one name for the weight column');
  const state = head.indexOf('STATE');
  const weightEnd = head.indexOf('EFF/CFG') + 'EFF/CFG'.length;
  for (const [name, text, weight] of [
    ['  b1', 'up', '2/2'],
    ['  b2', 'starting', '21/100'],
  ] as const) {
    const row = lineWith(f, name);
    assert.equal(row.slice(state, state + text.length), text, `${name}: its state under STATE`);
    assert.equal(row.slice(weightEnd - 7, weightEnd).trim(), weight, `${name}: effective/configured under EFF/CFG`);
    assert.equal(row[weightEnd], ' ', `${name}: the next column starts where the header's does`);
  }
});

test('? shows every key of the key table; any key closes it', async () => {
  const t = mount();
  await t.until((x) => x.includes('pool db'), 'the overview');
  await t.type('?');
  const f = await t.until((x) => x.includes('Keys'), 'the help');
  for (const k of KEYS) assert.ok(f.includes(k.keys), `help lists ${k.keys}`);
  await t.type('x');
  await t.until((x) => !x.includes('any key closes') && x.includes('pool db'), 'the help to close');
});

test('/ filters the table as one types; esc clears the filter', async () => {
  const t = mount();
  await t.until((x) => x.includes('pool db'), 'the overview');
  await t.type('/', 'd', 'b', '/', 'b', '2');
  let f = await t.until((x) => x.includes('filter: db/b2'), 'the filter prompt');
  assert.ok(!f.includes('pool web'), 'pool web is filtered out');
  assert.ok(f.includes('pool db'));
  assert.equal(f.split('\n').filter((l) => /^ {2}b\d/.test(l)).length, 1, 'one backend row');
  await t.type('\r');
  f = await t.until((x) => x.includes('filter "db/b2"'), 'the footer to show the filter');
  await t.type(ESC);
  await t.until((x) => x.includes('pool web'), 'the filter to clear');
});

test('d asks to confirm, y sends set state drain and the log pane echoes the command and the reply', async () => {
  const t = mount();
  await t.until((x) => x.includes('pool db'), 'the overview');
  await t.type('d');
  await t.until((x) => x.includes('Drain web/b1?') && x.includes('[y/N]'), 'the confirm dialog');
  assert.equal(t.sent.length, 0, 'nothing is sent before the yes');
  await t.type('y');
  const f = await t.until((x) => x.includes('< web/b1: admin state drain'), 'the reply in the log');
  assert.ok(f.includes('> set state web/b1 drain'));
  assert.deepEqual(t.sent, [{ cmd: 'set-state', args: { backend: 'web/b1', state: 'drain' } }]);
});

test("an action the daemon refuses shows the daemon's error text in the log", async () => {
  const t = mount({ fail: true });
  await t.until((x) => x.includes('pool db'), 'the overview');
  await t.type('m', 'y');
  await t.until((x) => x.includes('! E_NOT_FOUND: no backend named "web/b1"'), 'the error in the log');
});

test('n cancels a confirmation and w asks for a weight first', async () => {
  const t = mount();
  await t.until((x) => x.includes('pool db'), 'the overview');
  await t.type('r', 'n');
  await t.until((x) => !x.includes('[y/N]'), 'the dialog to close');
  await t.type('j', 'w', '7', '\r');
  await t.until((x) => x.includes('Set the weight of web/b2 to 7?'), 'the weight confirmation');
  await t.type('y');
  await t.until((x) => x.includes('> set weight web/b2 7'), 'the action in the log');
  assert.deepEqual(t.sent, [{ cmd: 'set-weight', args: { backend: 'web/b2', weight: 7 } }]);
});

test('--read-only hides the actions from the footer and the help, and d does nothing', async () => {
  const t = mount({ readOnly: true });
  let f = await t.until((x) => x.includes('pool db'), 'the overview');
  assert.ok(!f.includes('d drain'));
  assert.ok(f.includes('[read-only]'));
  await t.type('d', '?');
  f = await t.until((x) => x.includes('Keys'), 'the help');
  assert.ok(!f.includes('[y/N]'));
  assert.ok(!f.includes('drain the selected backend'));
  assert.equal(t.sent.length, 0);
});

test('fits 80x24: no line is wider than 80 and the frame has at most 24 lines', async () => {
  const t = mount({ size: { columns: 80, rows: 24 } });
  for (const view of ['1', '2', '3', '4', '5']) {
    await t.type(view);
    await new Promise((r) => setTimeout(r, 40));
    const lines = strip(t.frame()).split('\n');
    assert.ok(lines.length <= 24, `view ${view}: ${lines.length} lines`);
    for (const l of lines) assert.ok(l.length <= 80, `view ${view}: ${JSON.stringify(l)} is ${l.length} wide`);
  }
});

test('200 backends: the table is windowed to the terminal height and follows the selection', async () => {
  const t = mount({ ctx: new DashboardContext(100), size: { columns: 120, rows: 30 } });
  let f = await t.until((x) => x.includes('rows 1-'), 'the windowed table');
  assert.match(f, /of 203/);
  assert.ok(strip(t.frame()).split('\n').length <= 30);
  const started = Date.now();
  await t.type(`${ESC}[F`); // end
  f = await t.until((x) => /rows \d+-203 of 203/.test(x), 'the window to follow the cursor');
  // names sort as text: b99 is the last backend of the last pool
  assert.ok(f.includes('  b99'));
  assert.ok(Date.now() - started < 2000, 'stays responsive');
});

test('every view renders from the same store: topology, detail, alerts, traffic', async () => {
  const ctx = new DashboardContext(2);
  ctx.backend('db/b2').op = 'down';
  const t = mount({ ctx });
  await t.until((x) => x.includes('pool db'), 'the overview');
  await t.type('2');
  let f = await t.until((x) => x.includes('─▶ pool web'), 'the topology');
  assert.match(f, /─▶ b1 127\.0\.0\.1:5001 up/);
  await t.type('j', '\r');
  f = await t.until((x) => x.includes('connections/s') && x.includes('state changes'), 'the detail view');
  assert.match(f, /web\/b2 127\.0\.0\.1:5002/);
  await t.type(ESC, '4');
  f = await t.until((x) => x.includes('firing and pending (1)'), 'the alerts view');
  assert.match(f, /firing\s+critical\s+backend_down\s+db\/b2/);
  await t.type('5');
  f = await t.until((x) => x.includes('10.1.2.3'), 'the traffic view with clients');
  assert.match(f, /http\s+█+\s+100%/);
  assert.match(f, /pool web\s+round_robin/);
});

test("the topology says where a pool's backends come from and when each source last refreshed; a failing one in red", async () => {
  const ctx = new DashboardContext(2);
  const now = Date.now();
  const source = {
    kind: 'dns' as const,
    target: 'app.internal:8080',
    source: 'dns app.internal:8080',
    path: 'pool.web.address',
    state: 'ok' as const,
    backends: 2,
    lastRefresh: now - 1500,
    lastSuccess: now - 1500,
    nextRefresh: now + 500,
    error: null,
    refreshes: 9,
    failures: { nx: 0, timeout: 0, refused: 0, invalid: 0, disconnected: 0 },
    changes: { added: 2, removed: 0, reweighted: 0 },
  };
  ctx.pools[0]!.discovery = [source];
  ctx.pools[1]!.discovery = [
    {
      ...source,
      kind: 'etcd',
      target: '/netmon/db/',
      source: 'etcd /netmon/db/',
      state: 'failing',
      error: 'disconnected: watch lost',
    },
  ];
  const t = mount({ ctx, size: { columns: 160, rows: 30 } });
  await t.type('2');
  const f = await t.until((x) => x.includes('<- dns app.internal:8080'), 'the sources on the pool rows');
  assert.match(lineWith(f, 'pool web'), /<- dns app\.internal:8080 ok 2 \(\d\.\ds ago\)/);
  assert.match(lineWith(f, 'pool db'), /<- etcd \/netmon\/db\/ failing 2/);
  assert.match(lineWith(t.frame(), 'etcd /netmon/db/'), /\u001b\[31m[^\u001b]*etcd \/netmon\/db\/ failing/, 'red');
});

test('the traffic view shows why an adaptive pool uses its strategy', async () => {
  const ctx = new DashboardContext(2);
  const web = ctx.pools.find((p) => p.name === 'web')!;
  Object.assign(web, {
    algorithm: 'adaptive',
    activeAlgorithm: 'least_response_time',
    adaptiveSwitches: 3,
    adaptiveReason: 'latency spread x20.0: b1 is slowest, b2 fastest',
  });
  const t = mount({ ctx, size: { columns: 160, rows: 30 } });
  await t.until((x) => x.includes('pool db'), 'the overview');
  await t.type('5');
  const f = await t.until((x) => x.includes('switches 3'), 'the traffic view');
  assert.match(lineWith(f, 'pool web'), /pool web\s+adaptive using least_response_time\s+switches 3/);
  assert.match(f, /pool web .*\n.* {4}because latency spread x20\.0: b1 is slowest, b2 fastest/);
  assert.equal(f.split('because').length, 2, 'no reason for a pool that is not adaptive');
});

test('losing the daemon shows a banner with the retry; getting it back clears it', async () => {
  const t = mount();
  await t.until((x) => x.includes('pool db'), 'the overview');
  t.store.dispatch({
    type: 'disconnected',
    time: Date.now(),
    error: 'E_CONTROL_CONNECT: the daemon closed the connection',
    retryInMs: 500,
  });
  await t.until((x) => x.includes('DAEMON LOST') && x.includes('reconnecting in 0.5s'), 'the banner');
  t.store.dispatch({ type: 'connected', time: Date.now() });
  await t.until((x) => x.includes('reconnected at') && !x.includes('DAEMON LOST'), 'the reconnected banner');
});

test('the header shows the instance health: healthy, the lame duck counting down, the drain, unhealthy with its reasons', async () => {
  const ctx = new DashboardContext(2);
  const t = mount({ ctx });
  const push = (): void => t.store.dispatch({ type: 'snapshot', snapshot: structuredClone(ctx.snapshot()) });
  const green = '\u001b[32m';
  const yellow = '\u001b[33m';
  const red = '\u001b[31m';
  await t.until((x) => lineWith(x, 'netmon top').includes(' healthy '), 'the healthy badge');
  assert.ok(lineWith(t.frame(), 'netmon top').includes(green), 'healthy is green');
  assert.ok(!t.frame().includes('stopping'), 'no reasons line while healthy');

  ctx.phase = 'lame_duck';
  push();
  let f = await t.until((x) => lineWith(x, 'netmon top').includes('LAME DUCK'), 'the lame duck badge');
  assert.match(lineWith(f, 'netmon top'), /LAME DUCK [45]\.\ds/);
  assert.match(f, /stopping: unhealthy for routing, still accepting; listeners close in [45]\.\ds/);
  assert.ok(lineWith(t.frame(), 'LAME DUCK').includes(yellow), 'the lame duck is yellow');

  ctx.phase = 'draining';
  push();
  // the fake daemon's two workers hold 3 connections each
  f = await t.until((x) => lineWith(x, 'netmon top').includes('DRAINING 6 connections'), 'the draining badge');
  assert.ok(f.includes('stopping: listeners closed, 6 connections finishing'));

  ctx.phase = 'serving';
  for (const b of ['db/b1', 'db/b2']) ctx.backend(b).op = 'down';
  push();
  f = await t.until((x) => lineWith(x, 'netmon top').includes('UNHEALTHY'), 'the unhealthy badge');
  assert.ok(f.includes('critical pool db has no backend up (0 of 2)'), f);
  assert.ok(!f.includes('stopping'));
  assert.ok(lineWith(t.frame(), 'UNHEALTHY').includes(red), 'unhealthy is red');
  assert.ok(strip(t.frame()).split('\n').length <= 30, 'the reasons line fits in the screen');

  for (const b of ['db/b1', 'db/b2']) ctx.backend(b).op = 'up';
  push();
  await t.until(
    (x) => lineWith(x, 'netmon top').includes(' healthy ') && !x.includes('critical pool'),
    'healthy again',
  );
});
