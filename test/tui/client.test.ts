// The dashboard's link over a real control socket (the real server over a fake
// context): snapshots and events reach the store, actions get the daemon's
// reply, and a restarted daemon is found again.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { setLogSink } from '../../daemon/log.js';
import { connectDaemon } from '../../tui/client.js';
import { initialState } from '../../tui/reducer.js';
import { createStore } from '../../tui/store.js';
import { waitFor } from '../helpers/servers.js';
import { DashboardContext, startFakeDaemon } from './fake-daemon.js';

setLogSink(() => {});
const dir = mkdtempSync(join(tmpdir(), 'netmon-tui-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('snapshots and events from the socket reach the store; actions get the reply or the error', async () => {
  const path = join(dir, 'a.sock');
  const { ctx, server } = await startFakeDaemon(path);
  const store = createStore(initialState(path, Date.now()));
  const link = connectDaemon({ socket: path, store, intervalMs: 100 });
  try {
    await waitFor(() => store.getState().times.length >= 2, 5000, 'two snapshots');
    assert.equal(store.getState().connection.status, 'connected');
    ctx.emit({
      type: 'state',
      time: Date.now(),
      backend: 'web/b1',
      from: 'up',
      to: 'down',
      cause: 'health',
      detail: 'refused',
    });
    await waitFor(() => store.getState().stateChanges.length === 1, 5000, 'the state event');

    const reply = await link.send('set-state', { backend: 'web/b1', state: 'drain' });
    assert.deepEqual(reply, { message: 'web/b1: admin state drain' });
    assert.equal(ctx.backend('web/b1').admin, 'drain');
    await assert.rejects(link.send('set-state', { backend: 'web/nope', state: 'drain' }), { code: 'E_NOT_FOUND' });
    await waitFor(
      () => store.getState().snapshot?.backends.find((b) => b.key === 'web/b1')?.admin === 'drain',
      5000,
      'drain in a snapshot',
    );

    await link.refreshClients(5);
    assert.deepEqual(store.getState().clients, [{ address: '127.0.0.1', active: 2, connections: 40, rejected: 0 }]);
  } finally {
    link.close();
    await server.close();
  }
});

test('a daemon restart: the store says lost, then connected again with fresh snapshots', async () => {
  const path = join(dir, 'b.sock');
  let daemon = await startFakeDaemon(path);
  const store = createStore(initialState(path, Date.now()));
  const link = connectDaemon({ socket: path, store, intervalMs: 100, minDelayMs: 50, maxDelayMs: 200 });
  try {
    await waitFor(
      () => store.getState().connection.connects === 1 && store.getState().snapshot !== null,
      5000,
      'attached',
    );
    await daemon.server.close();
    await waitFor(() => store.getState().connection.status === 'lost', 5000, 'the loss');
    assert.match(store.getState().connection.error ?? '', /E_CONTROL_CONNECT/);
    const before = store.getState().times.length;
    daemon = await startFakeDaemon(path, new DashboardContext(1));
    await waitFor(() => store.getState().connection.status === 'connected', 5000, 'the reconnect');
    assert.equal(store.getState().connection.connects, 2);
    await waitFor(() => store.getState().times.length > before, 5000, 'a snapshot from the new daemon');
    assert.equal(store.getState().snapshot!.backends.length, 2, 'the new daemon has one backend per pool');
  } finally {
    link.close();
    await daemon.server.close();
  }
});
