// The hosts of the fleet tests, built in a Lab:
//
//   client (10.1.0.2 + 10.1.1.1..N) --- router (10.1.0.1 | bridge 10.0.0.1/24)
//                                          |          |          |
//                                 lb1 10.0.0.11   lb2 .12    lb3 .13     netmon (+ keepalived or BIRD)
//                                 eth1 10.2.0.11  10.2.0.12  10.2.0.13
//                                          |          |          |
//                                 backends (bridge 10.2.0.1/24, b1..b3 on ports 7001..7003)
//
// plus the pieces every test starts inside it: netmon instances, the backends,
// the clients, keepalived and BIRD with the conf/ files rendered for these
// addresses, and watchers of the router's routes and of addresses.
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ControlClient } from '../../daemon/control/socket/client.js';
import type { HealthReport } from '../../daemon/control/service-health.js';
import { Lab, until, type LabProcess } from './lab.js';
import type { AgentCommand, AgentLine, AgentSpec, FlowRecord } from './agents/flow-client.js';

export const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const NETMON = join(ROOT, 'bin', 'netmon');
const AGENTS = join(ROOT, 'dist', 'test', 'fleet', 'agents');

export const BACKENDS = [
  { name: 'b1', port: 7001 },
  { name: 'b2', port: 7002 },
  { name: 'b3', port: 7003 },
];
export const BACKEND_HOST = '10.2.0.1';
export const ROUTER_LB = '10.0.0.1';
/** lb address on the router's network, i = 1.. */
export const lbAddress = (i: number): string => `10.0.0.1${i}`;
/** lb address on the backends' network: what a backend sees as the relaying instance */
export const lbBackendSide = (i: number): string => `10.2.0.1${i}`;

/** Builds client, router, lb1..lbN and backends, with `sources` client addresses. */
export async function buildHosts(lab: Lab, lbs: number, sources: number): Promise<string[]> {
  for (const h of ['client', 'router', 'backends']) await lab.host(h);
  for (let i = 1; i <= lbs; i++) await lab.host(`lb${i}`);
  await lab.link('client', 'eth0', 'router', 'c0');
  await lab.ip('client', 'addr', 'add', '10.1.0.2/16', 'dev', 'eth0');
  await lab.ip('client', 'route', 'add', 'default', 'via', '10.1.0.1');
  await lab.ip('router', 'addr', 'add', '10.1.0.1/16', 'dev', 'c0');
  await lab.sysctl('router', 'net.ipv4.ip_forward=1', 'net.ipv4.fib_multipath_hash_policy=1');
  const toLbs: string[] = [];
  const toBackends: string[] = [];
  for (let i = 1; i <= lbs; i++) {
    await lab.link(`lb${i}`, 'eth0', 'router', `l${i}`);
    await lab.link(`lb${i}`, 'eth1', 'backends', `l${i}`);
    await lab.ip(`lb${i}`, 'addr', 'add', `${lbAddress(i)}/24`, 'dev', 'eth0');
    await lab.ip(`lb${i}`, 'addr', 'add', `${lbBackendSide(i)}/24`, 'dev', 'eth1');
    await lab.ip(`lb${i}`, 'route', 'add', 'default', 'via', ROUTER_LB);
    toLbs.push(`l${i}`);
    toBackends.push(`l${i}`);
  }
  await lab.bridge('router', 'br0', `${ROUTER_LB}/24`, toLbs);
  await lab.bridge('backends', 'br0', `${BACKEND_HOST}/24`, toBackends);
  const addrs = Array.from({ length: sources }, (_, k) => `10.1.${1 + (k >> 8)}.${1 + (k & 255)}`);
  await lab.ipBatch(
    'client',
    addrs.map((a) => `addr add ${a}/16 dev eth0`),
  );
  return addrs;
}

export async function startBackends(lab: Lab): Promise<LabProcess> {
  let ready!: () => void;
  const isReady = new Promise<void>((r) => (ready = r));
  const p = lab.start(
    'backends',
    'backends',
    [process.execPath, join(AGENTS, 'backend.js'), JSON.stringify({ host: BACKEND_HOST, backends: BACKENDS })],
    (l) => l === 'ready' && ready(),
  );
  await Promise.race([isReady, p.exited.then(() => Promise.reject(new Error(`backends exited:\n${lab.tail(p)}`)))]);
  return p;
}

export interface NetmonInstance {
  lb: number;
  proc: LabProcess;
  socket: string;
  config: string;
}

/**
 * netmon in lbN: one listener on `bind`, pool "app" with ip_hash over b1..b3
 * listed in `order` (a different order per instance: the picks must not care),
 * critical, TCP health checks.
 */
export async function startNetmon(
  lab: Lab,
  lb: number,
  o: { bind: string; order: number[]; announceDrain: string; drainTimeout?: string },
): Promise<NetmonInstance> {
  const socket = join(lab.dir, `netmon-lb${lb}.sock`);
  const lines = [
    'workers = 1',
    `announce_drain = "${o.announceDrain}"`,
    `drain_timeout = "${o.drainTimeout ?? '5s'}"`,
    '[control]',
    `socket = ${JSON.stringify(socket)}`,
    '[metrics]',
    // inside the namespace: every instance has its own loopback
    'listen = "127.0.0.1:9469"',
    '[alerts]',
    'cpu_percent = 0',
    '[[listener]]',
    'name = "vip"',
    `bind = "${o.bind}"`,
    'pool = "app"',
    'backlog = 1024',
    '[pool.app]',
    'algorithm = "ip_hash"',
    'critical = true',
    'retries = 1',
    'timeouts = { connect = "1s", idle = "30s" }',
    'health = { type = "tcp", interval = "500ms", timeout = "400ms", rise = 1, fall = 2 }',
  ];
  for (const k of o.order) {
    const b = BACKENDS[k]!;
    lines.push('[[pool.app.backend]]', `name = "${b.name}"`, `address = "${BACKEND_HOST}:${b.port}"`);
  }
  const config = join(lab.dir, `netmon-lb${lb}.toml`);
  writeFileSync(config, lines.join('\n') + '\n');
  const proc = lab.start(`lb${lb}`, `netmon-lb${lb}`, [NETMON, 'daemon', '-c', config]);
  const n: NetmonInstance = { lb, proc, socket, config };
  await until(
    `netmon in lb${lb} to answer healthy`,
    async () => {
      if (proc.child.exitCode !== null) throw new Error(`netmon in lb${lb} exited:\n${lab.tail(proc)}`);
      return (await health(n).catch(() => null))?.healthy === true;
    },
    15_000,
    100,
  );
  return n;
}

export async function health(n: NetmonInstance): Promise<HealthReport> {
  const c = await ControlClient.connect(n.socket, { timeoutMs: 1000 });
  try {
    return (await c.request('show-health', {}, { timeoutMs: 1000 })) as HealthReport;
  } finally {
    c.close();
  }
}

/** The clients: a paced stream of short flows and held flows on demand, recorded. */
export class Clients {
  readonly flows: FlowRecord[] = [];
  private readonly waiters: ((l: AgentLine) => void)[] = [];
  readonly proc: LabProcess;

  /** Starts the clients in the client host; resolves once they are ready for commands. */
  static async start(lab: Lab, spec: AgentSpec): Promise<Clients> {
    const c = new Clients(lab, spec);
    await c.next('ready', () => undefined);
    return c;
  }

  private constructor(lab: Lab, spec: AgentSpec) {
    this.proc = lab.start(
      'client',
      'clients',
      [process.execPath, join(AGENTS, 'flow-client.js'), JSON.stringify(spec)],
      (line) => {
        const m = JSON.parse(line) as AgentLine;
        if (m.type === 'flow') this.flows.push(m);
        for (const w of this.waiters.splice(0)) w(m);
      },
    );
  }

  send(cmd: AgentCommand): void {
    this.proc.child.stdin!.write(JSON.stringify(cmd) + '\n');
  }

  /**
   * Releases the held flows relayed by instance address `via` (a last exchange,
   * then a clean close); resolves with their records once every one has reported.
   */
  async release(via: string, timeoutMs = 15_000): Promise<FlowRecord[]> {
    const before = this.flows.length;
    const m = await this.next('released', () => this.send({ cmd: 'release', via }));
    const count = m.type === 'released' ? m.count : 0;
    const mine = (): FlowRecord[] => this.flows.slice(before).filter((f) => f.kind === 'held' && f.via === via);
    await until(`${count} released flows to report`, () => mine().length >= count, timeoutMs, 20);
    return mine();
  }

  /** Opens `count` held flows; resolves with how many were established. */
  hold(count: number): Promise<number> {
    return this.next('holding', () => this.send({ cmd: 'hold', count })).then((m) =>
      m.type === 'holding' ? m.open : 0,
    );
  }

  /** Waits until `n` more short flows have succeeded: a phase long enough whatever the machine's load. */
  async succeeded(n: number, timeoutMs = 30_000): Promise<void> {
    const ok = (): number => this.flows.filter((f) => f.kind === 'short' && f.ok).length;
    const target = ok() + n;
    await until(`${n} successful flows`, () => ok() >= target, timeoutMs, 20);
  }

  /** Stops the stream, releases held flows, waits for every flow to report. */
  async stop(): Promise<void> {
    await this.next('done', () => this.send({ cmd: 'stop' }));
  }

  private next(type: AgentLine['type'], then: () => void): Promise<AgentLine> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`clients: no "${type}" within 30 s`)), 30_000);
      const wait = (l: AgentLine): void => {
        if (l.type === type) {
          clearTimeout(timer);
          resolve(l);
        } else this.waiters.push(wait);
      };
      this.waiters.push(wait);
      then();
    });
  }
}

/** Site settings replaced in a conf/ file: `$NAME=value` (keepalived) or `define NAME = value;` (BIRD, nftables). */
export function renderConf(file: string, values: Record<string, string>, extra: [RegExp, string][] = []): string {
  let text = readFileSync(join(ROOT, 'conf', file), 'utf8');
  for (const [name, value] of Object.entries(values)) {
    const keepalived = new RegExp(`^(\\s*(?:@\\w+\\s+)?)\\$${name}=.*$`, 'gm');
    const bird = new RegExp(`^define ${name} = [^;]*;`, 'gm');
    if (!keepalived.test(text) && !bird.test(text)) throw new Error(`conf/${file} has no site setting ${name}`);
    text = text.replace(keepalived, `$1$${name}=${value}`).replace(bird, `define ${name} = ${value};`);
  }
  for (const [re, by] of extra) {
    if (!re.test(text)) throw new Error(`conf/${file}: nothing matches ${re}`);
    text = text.replace(re, by);
  }
  return text;
}

/** One change of the router's route to the virtual address, seen by `ip -ts monitor route`. */
export interface RouteChange {
  /** ms since the epoch */
  time: number;
  /** next hops after the change; empty when the route was deleted */
  via: string[];
}

/** Follows the router's route to `prefix` (`ip -ts monitor route`), change by change. */
export class RouteWatch {
  readonly changes: RouteChange[] = [];
  private record: string[] = [];
  private flush: NodeJS.Timeout | null = null;

  constructor(
    lab: Lab,
    host: string,
    private readonly prefix: string,
  ) {
    lab.start(host, `route-monitor-${host}`, ['ip', '-ts', 'monitor', 'route'], (line) => this.onLine(line));
  }

  private onLine(line: string): void {
    if (line.startsWith('[') && this.record.length > 0) this.emit();
    this.record.push(line);
    if (this.flush) clearTimeout(this.flush);
    // a multipath route comes as several lines: the record ends with the next one or a pause
    this.flush = setTimeout(() => this.emit(), 20);
  }

  private emit(): void {
    const text = this.record.join('\n');
    this.record = [];
    const m = /^\[([0-9T:.-]+)\]\s+(Deleted\s+)?(\S+)/.exec(text);
    if (!m || m[3] !== this.prefix) return;
    // local time with microseconds, as `ip -ts` prints it
    const time = new Date(m[1]!.slice(0, 23)).getTime() + Number(`0.${m[1]!.slice(23) || '0'}`);
    const via = m[2] ? [] : [...text.matchAll(/via (\S+)/g)].map((v) => v[1]!);
    this.changes.push({ time, via });
  }
}

/** Times an address appears on a host (`ip -ts monitor address`). */
export class AddressWatch {
  readonly added: number[] = [];
  constructor(lab: Lab, host: string, address: string) {
    lab.start(host, `address-monitor-${host}`, ['ip', '-ts', 'monitor', 'address'], (line) => {
      const m = /^\[([0-9T:.-]+)\]\s+(Deleted\s+)?\d+:\s+\S+\s+inet\s+(\S+)/.exec(line);
      if (m && !m[2] && m[3]!.split('/')[0] === address) this.added.push(new Date(m[1]!.slice(0, 23)).getTime());
    });
  }
}
