// The DNS client discovery uses, against a real name server (dnsmasq on a
// loopback port, TTL 1 s): the servers it asks, the address families it keeps,
// and how an unanswered query is sent again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { own } from '../helpers/own.js';
import { hasTool } from '../helpers/tools.js';
import { DOMAIN, startDnsmasq, startSlowDns } from '../helpers/dns.js';
import { DnsClient, ResolveError, type AddressRecord } from '../../daemon/control/discovery/dns-client.js';
import { DEFAULT_RESOLVERS } from '../../daemon/config/defaults.js';
import type { ResolversConfig } from '../../daemon/config/schema.js';

test('nameservers and family: names are asked of the servers listed, with their TTLs; family picks A, AAAA or both', async (t) => {
  if (!hasTool(t, 'dnsmasq', 'dnsmasq-base')) return;
  const app = `dual.${DOMAIN}`;
  const dns = own(t, await startDnsmasq([`127.0.0.1 ${app}`, `::1 ${app}`]));
  const nameservers = [{ host: '127.0.0.1', port: dns.port, text: `127.0.0.1:${dns.port}` }];
  const ask = (over: Partial<ResolversConfig>): Promise<AddressRecord[]> =>
    new DnsClient({
      ...DEFAULT_RESOLVERS,
      resolveRetries: 1,
      timeouts: { resolve: 1000, retry: 300 },
      ...over,
    }).addresses(app);
  const family = async (f: ResolversConfig['family']): Promise<string[]> =>
    (await ask({ nameservers, family: f })).map((r) => r.address).sort();
  assert.deepEqual(await family('any'), ['127.0.0.1', '::1']);
  assert.deepEqual(await family('ipv4'), ['127.0.0.1']);
  assert.deepEqual(await family('ipv6'), ['::1']);
  assert.deepEqual(
    (await ask({ nameservers })).map((r) => r.ttl),
    [1, 1],
    'the TTL of each answer (dnsmasq --local-ttl=1)',
  );
  // no nameservers: the system's resolver, which does not know this zone (and gives no TTL)
  await assert.rejects(ask({ nameservers: [] }), (e) => e instanceof ResolveError);
});

test('timeout.retry and resolve_retries: a query unanswered within retry is sent again, up to resolve_retries times', async (t) => {
  if (!hasTool(t, 'dnsmasq', 'dnsmasq-base')) return;
  const app = `late.${DOMAIN}`;
  const dns = own(t, await startDnsmasq([`127.0.0.1 ${app}`]));
  // every answer comes 1 s late
  const slow = own(t, await startSlowDns(dns.port, 1000));
  const nameservers = [{ host: '127.0.0.1', port: slow.port, text: `127.0.0.1:${slow.port}` }];
  const ask = (resolveRetries: number): Promise<AddressRecord[]> =>
    new DnsClient({
      ...DEFAULT_RESOLVERS,
      nameservers,
      resolveRetries,
      timeouts: { resolve: 1000, retry: 300 },
    }).addresses(app);
  // one query, given 300 ms: a timeout (the kind whose hold time applies)
  await assert.rejects(ask(1), (e) => e instanceof ResolveError && e.kind === 'timeout');
  // four tries, the wait growing from 300 ms each time: the late answer is still taken
  assert.deepEqual(
    (await ask(4)).map((r) => r.address),
    ['127.0.0.1'],
  );
});
