// fd_exhaustion fires at once while a worker has stopped accepting for want of
// descriptors, when nine in ten of the limit are open, or when EMFILE/ENFILE
// was met since the last evaluation; it clears when none holds. Its line quotes
// the limit in force: the one the workers pause accepting by.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RuleSet } from '../../daemon/control/alerts/rules.js';
import { parseConfig } from '../../daemon/config/load.js';
import { inputsFromSnapshot, type AlertInputs } from '../../daemon/control/alerts/inputs.js';
import { FakeContext } from '../control/fake-context.js';

const CFG = parseConfig(
  '[[listener]]\nname = "l"\nbind = "127.0.0.1:0"\npool = "p"\n[pool.p]\n[[pool.p.backend]]\nname = "b"\naddress = "127.0.0.1:1"\n',
  't.toml',
).alerts;

function fds(f: NonNullable<AlertInputs['fds']>): AlertInputs {
  return { backends: [], listeners: [], process: { cpu: 0.01, rssBytes: 50e6 }, fds: f };
}

test('fd_exhaustion: paused, nearly full, or new EMFILE events; not otherwise', () => {
  const rules = new RuleSet();
  const names = (i: AlertInputs): string[] =>
    rules
      .evaluate(i, CFG, 0)
      .filter((c) => c.name === 'fd_exhaustion')
      .map((c) => `${c.severity}${c.immediate ? '!' : ''}`);
  const base = { open: 100, limit: 1024, exhaustion: 0, acceptPaused: false };
  assert.deepEqual(names(fds(base)), []);
  assert.deepEqual(names(fds({ ...base, acceptPaused: true })), ['critical!']);
  assert.deepEqual(names(fds({ ...base, open: 950 })), ['critical!']);
  // three events since the last evaluation
  assert.deepEqual(names(fds({ ...base, exhaustion: 3 })), ['critical!']);
  // none since
  assert.deepEqual(names(fds({ ...base, exhaustion: 3 })), []);
  // unlimited: only pauses and events count
  assert.deepEqual(names(fds({ ...base, limit: null, open: 1e6 })), []);
});

test('the message names the figures', () => {
  const c = new RuleSet()
    .evaluate(fds({ open: 230, limit: 256, exhaustion: 0, acceptPaused: true }), CFG, 0)
    .find((x) => x.name === 'fd_exhaustion')!;
  assert.match(c.message, /230 open of 256/);
  assert.match(c.message, /not accepting/);
  assert.equal(c.subject, 'daemon');
});

test('the line quotes the limit the workers apply, not an older one the main thread kept', () => {
  const snap = new FakeContext().snapshot();
  // lowered under the daemon (prlimit) to 200: the main thread could not read it again at the limit
  snap.process = { ...snap.process, openFds: 40, maxFds: 20000 };
  snap.workers = snap.workers.map((w) => ({ ...w, fdLimit: 200, acceptPaused: w.id === 0 }));
  // a dead worker's last reading is not the limit in force
  snap.workers.push({ ...snap.workers[1]!, id: 2, alive: false, fdLimit: 100, acceptPaused: false });
  const fire = (): { message: string; threshold: number } =>
    new RuleSet()
      .evaluate(
        inputsFromSnapshot(snap, () => null),
        CFG,
        0,
      )
      .find((x) => x.name === 'fd_exhaustion')!;
  let c = fire();
  assert.match(c.message, /\(40 open of 200\)/);
  assert.equal(c.threshold, 180);
  // no worker has read it yet: the main thread's reading
  snap.workers = snap.workers.map((w) => ({ ...w, fdLimit: null }));
  c = fire();
  assert.match(c.message, /\(40 open of 20000\)/);
});
