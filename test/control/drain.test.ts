// `set state web/b2 drain` over the control socket: b2 gets no new connections
// while its open ones keep relaying; `ready` brings it back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startControlFixture } from './fixture.js';
import { textRequest } from './line-client.js';
import { HeldConnection } from '../integration/reload-helpers.js';
import { whoAnswers } from '../helpers/servers.js';

test('drain over the control socket: no new connections to b2, its existing ones continue; ready brings it back', async () => {
  const f = await startControlFixture();
  const held: HeldConnection[] = [];
  try {
    while (!held.some((c) => c.backend === 'b2') && held.length < 20) held.push(await HeldConnection.open(f.port));
    const onB2 = held.find((c) => c.backend === 'b2');
    assert.ok(onB2, 'a connection landed on b2');
    assert.equal(await textRequest(f.sock, 'set state web/b2 drain'), 'web/b2: admin state drain');
    const acceptedBefore = f.backends[1]!.accepted;
    for (let i = 0; i < 30; i++) assert.equal(await whoAnswers(f.port), 'b1');
    assert.equal(f.backends[1]!.accepted, acceptedBefore, 'b2 accepted nothing new while draining');
    await onB2.echo('still relayed while draining');
    assert.match(await textRequest(f.sock, 'show backends web'), /^web\/b2\s+\S+\s+DRAIN\/up/m);

    assert.equal(await textRequest(f.sock, 'set state web/b2 ready'), 'web/b2: admin state ready');
    const seen = new Set<string>();
    for (let i = 0; i < 10; i++) seen.add(await whoAnswers(f.port));
    assert.ok(seen.has('b2'), 'b2 takes new connections again');
    await onB2.echo('and after');
  } finally {
    for (const c of held) c.destroy();
    await f.close();
  }
});
