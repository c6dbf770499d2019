// The etcd client of one [etcd] section (the etcd3 package, gRPC): requests
// bounded by [etcd] timeout, a lost watch restored with a backoff that starts at
// 100 ms and doubles up to retry_max, and the fleet-wide writes of `netmon ctl
// set state|weight ... --fleet`: a read-modify-write of one backend's entry,
// guarded by the key's mod revision so that two writers never lose each other's
// change.
import type { Etcd3 } from 'etcd3';
import { NetmonError } from '../../errors.js';
import type { EtcdConfig } from '../../config/schema.js';
import type { AdminStateName } from '../../state/names.js';
import { parseEntry, patchEntry } from './etcd-entry.js';

/** Attempts of a fleet write whose key changed under it before it gives up (E_ETCD). */
const WRITE_ATTEMPTS = 5;

/** A watch restore delay (etcd3's backoff interface): `duration` now, doubling up to `max` on each next(). */
class CappedBackoff {
  constructor(
    readonly duration: number,
    private readonly max: number,
  ) {}
  next(): CappedBackoff {
    return new CappedBackoff(Math.min(this.max, Math.max(100, this.duration * 2)), this.max);
  }
}

/** A client for [etcd]; the etcd3 package (gRPC) is loaded only by a config that has endpoints. */
export async function createEtcdClient(cfg: EtcdConfig): Promise<Etcd3> {
  const { Etcd3 } = await import('etcd3');
  return new Etcd3({
    hosts: cfg.endpoints,
    dialTimeout: cfg.timeout,
    ...(cfg.username !== '' ? { auth: { username: cfg.username, password: cfg.password } } : {}),
    // a watch is a stream that lives as long as the source: only single requests get a deadline
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + cfg.timeout }),
    // etcd3 calls next() once before the first restore: that one is 100 ms
    faultHandling: { watchBackoff: new CappedBackoff(50, cfg.retryMax) },
  });
}

/**
 * Change fields of the entry at `key` for every instance watching its prefix.
 * Throws E_NOT_FOUND (no such key), E_DISCOVERY_ENTRY (its value is not a valid
 * entry: not rewritten), E_ETCD (etcd unreachable, or the key kept changing).
 */
export async function writeEntry(
  client: Etcd3,
  key: string,
  name: string,
  patch: { state?: AdminStateName; weight?: number },
): Promise<void> {
  for (let attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
    let res;
    try {
      res = await client.get(key).exec();
    } catch (err) {
      throw new NetmonError('E_ETCD', `cannot read ${key}: ${(err as Error).message}`);
    }
    const kv = res.kvs[0];
    if (kv === undefined) throw new NetmonError('E_NOT_FOUND', `no etcd key ${key}`);
    const value = kv.value.toString();
    const check = parseEntry(name, value);
    if (!check.ok) throw new NetmonError('E_DISCOVERY_ENTRY', `${key} is not rewritten: ${check.reason}`);
    let done;
    try {
      done = await client
        .if(key, 'Mod', '==', kv.mod_revision)
        .then(client.put(key).value(patchEntry(value, patch)))
        .commit();
    } catch (err) {
      throw new NetmonError('E_ETCD', `cannot write ${key}: ${(err as Error).message}`);
    }
    if (done.succeeded) return;
  }
  throw new NetmonError('E_ETCD', `${key} kept changing while it was written; try again`);
}
