// The concrete address each listener's workers bind, decided once on the main
// thread before any worker binds with SO_REUSEPORT:
//   - a port 0 is resolved here, once: every worker, a restarted worker and
//     every later generation get that same port (not one random port each);
//   - an address nobody in this process holds yet is checked first with a
//     bind without SO_REUSEPORT: if another program listens there (a second
//     netmon, anything with SO_REUSEPORT), the listener is refused with
//     E_LISTEN instead of sharing the traffic with it.
// A listener some live worker already serves on its held address is not
// checked again; one whose every worker died is checked again before a worker
// restarts (recheck). Sockets passed by systemd are not bound here at all.
import net from 'node:net';
import type { Address, ListenerConfig } from '../../config/schema.js';
import type { ListenErrors } from '../supervisor.js';
import { foreignListeners } from './port-holders.js';

interface Held {
  /** the config's text the address was resolved from ("127.0.0.1:0") */
  configured: string;
  address: Address;
}

/** A generation's decision for one listener: `address` null = not bound; a kept (held) address keeps its `configured`. */
interface Planned {
  configured: string;
  address: Address | null;
}

/** What prepare() needs to know about the listeners. */
export interface ListenContext {
  listeners: readonly ListenerConfig[];
  /** listeners served from a socket passed by systemd: never bound here */
  activated: ReadonlyMap<string, number>;
  /** listener names some live worker has open now */
  open: ReadonlySet<string>;
  /** workers that bind each listener (a main-thread refusal counts for all of them) */
  workers: number;
}

/** `server`: the checking socket, to close before the workers bind (null: the address is this process's already) */
type Checked = { ok: true; address: Address; server: net.Server | null } | { ok: false; message: string };

export class ListenAddresses {
  /** listener name -> the address its workers were last seen serving */
  private readonly held = new Map<string, Held>();
  /** this generation's plan: listener name -> the address to bind, or null: not bound */
  private planned = new Map<string, Planned>();

  /**
   * Decide the address of every bound listener of a generation. Returns the
   * listeners refused (E_LISTEN, with `serving` the held address a moved
   * listener keeps, or null); their plan keeps the held address or omits them.
   */
  async prepare(c: ListenContext): Promise<ListenErrors> {
    // the previous generation's plan stands until this one is decided whole
    const planned = new Map<string, Planned>();
    const failures: ListenErrors = [];
    const checked: net.Server[] = [];
    try {
      for (const l of c.listeners) {
        if (c.activated.has(l.name)) continue;
        const held = this.held.get(l.name);
        const same = held !== undefined && held.configured === l.bind.text;
        if (same && c.open.has(l.name)) {
          planned.set(l.name, held);
          continue;
        }
        // a port 0 asks for its port back (no one else took it), else for any port
        let r = await check(same ? held.address : l.bind);
        if (!r.ok && same && l.bind.port === 0) r = await check(l.bind);
        if (r.ok) {
          // kept open until every check is done, so two port-0 listeners never get one port
          if (r.server) checked.push(r.server);
          planned.set(l.name, { configured: l.bind.text, address: r.address });
          continue;
        }
        // a moved listener goes on serving where it is (its held address and text)
        const keep = held !== undefined && c.open.has(l.name) ? held : null;
        planned.set(l.name, keep ?? { configured: l.bind.text, address: null });
        failures.push({
          listener: l.name,
          code: 'E_LISTEN',
          message: `bind ${l.bind.text}: ${r.message}`,
          serving: keep?.address.text ?? null,
          workers: c.workers,
        });
      }
    } finally {
      // the workers bind once these are closed (a listening socket leaves no TIME_WAIT behind)
      await Promise.all(checked.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    }
    this.planned = planned;
    return failures;
  }

  /**
   * Before a worker restarts with the current generation: check again every
   * bound listener no live worker serves (`open`), on the exact address planned
   * (a port 0 keeps its port). Every worker of such a listener is gone, so
   * nothing of this process holds the port any more, and another program may
   * have taken it in the restart backoff: the kernel would let the worker join
   * it with SO_REUSEPORT. Returns those refused (E_LISTEN, `serving` null,
   * `workers` all of them); the generation's plan is left as it is.
   */
  async recheck(open: ReadonlySet<string>, workers: number): Promise<ListenErrors> {
    const failures: ListenErrors = [];
    for (const [name, p] of this.planned) {
      if (p.address === null || open.has(name)) continue;
      const r = await check(p.address);
      if (r.ok) {
        if (r.server) await new Promise<void>((resolve) => r.server!.close(() => resolve()));
        continue;
      }
      failures.push({
        listener: name,
        code: 'E_LISTEN',
        message: `bind ${p.address.text}: ${r.message}`,
        serving: null,
        workers,
      });
    }
    return failures;
  }

  /**
   * The address to bind `name` this generation: the checked one, null when it
   * is not bound, undefined when prepare() did not see it (the config's bind).
   */
  address(name: string): Address | null | undefined {
    const p = this.planned.get(name);
    return p === undefined ? undefined : p.address;
  }

  /** After the workers applied the plan: remember where each listener is served. */
  commit(listeners: readonly ListenerConfig[], serving: (name: string) => string | null): void {
    const names = new Set(listeners.map((l) => l.name));
    for (const name of this.held.keys()) if (!names.has(name)) this.held.delete(name);
    for (const l of listeners) {
      const p = this.planned.get(l.name);
      if (p?.address && serving(l.name) === p.address.text) {
        this.held.set(l.name, { configured: p.configured, address: p.address });
      }
    }
  }
}

/**
 * Bind `a` without SO_REUSEPORT (libuv sets SO_REUSEADDR: a TIME_WAIT left on
 * the port does not count). Free: the concrete address, its socket held open.
 * In use: refused when another process listens there; when only this process
 * does (a worker's socket, a listener moved or renamed), it is free for the
 * workers' SO_REUSEPORT bind.
 */
async function check(a: Address): Promise<Checked> {
  try {
    const server = await bindOnly(a);
    const port = (server.address() as net.AddressInfo).port;
    const text = a.port === port ? a.text : `${a.host.includes(':') ? `[${a.host}]` : a.host}:${port}`;
    return { ok: true, address: { host: a.host, port, text }, server };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code !== 'EADDRINUSE') return { ok: false, message: e.message };
    const others = foreignListeners(a.host, a.port);
    if (others === null) {
      return { ok: false, message: `${e.message}; /proc cannot say whether another program holds it` };
    }
    if (others.length === 0) return { ok: true, address: a, server: null };
    return {
      ok: false,
      message: `address in use by another program (EADDRINUSE; listening on ${others.join(', ')}): not shared`,
    };
  }
}

function bindOnly(a: Address): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    // anything that connects in the moment this socket is open is closed, never served
    const s = net.createServer({ pauseOnConnect: true }, (c) => c.destroy());
    s.once('error', reject);
    s.listen({ host: a.host, port: a.port, backlog: 1 }, () => {
      s.removeListener('error', reject);
      resolve(s);
    });
  });
}
