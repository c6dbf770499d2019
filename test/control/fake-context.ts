// A ControlContext over plain objects: what the control socket tests talk to
// instead of a daemon. It records every call so tests can assert on effects.
import { NetmonError } from '../../daemon/errors.js';
import type { ClientStats, ControlContext, ReloadResult, StopAck } from '../../daemon/control/socket/context.js';
import { evaluateHealth, type HealthReport, type ServicePhase } from '../../daemon/control/service-health.js';
import type { AdminStateName } from '../../daemon/state/names.js';
import type { BackendSnapshot, DaemonEvent, PoolSnapshot, Snapshot } from '../../daemon/control/snapshot/snapshot.js';

const rates = { connections: 12.5, bytesIn: 1000, bytesOut: 2000, errors: 0, retries: 0 };
const noFaults = {
  internalErrors: 0,
  fdAcceptPauses: 0,
  fdConnectFailures: 0,
  acceptPaused: false,
  fdLimit: 65536,
  stopCut: 0,
  stopQueueReset: 0,
};

function backend(pool: string, name: string, port: number): BackendSnapshot {
  return {
    key: `${pool}/${name}`,
    pool,
    name,
    address: `127.0.0.1:${port}`,
    admin: 'ready',
    op: 'up',
    cause: 'health',
    lastChange: 1_700_000_000_000,
    weight: 2,
    effectiveWeight: 2,
    backup: false,
    active: 3,
    maxConnections: 0,
    connections: 120,
    bytesIn: 123_456,
    bytesOut: 7_654_321,
    connectErrors: { refused: 1, timeout: 0, other: 0 },
    retries: 0,
    passiveFailures: 0,
    passiveEjectionsRefused: 0,
    resets: { client: 0, backend: 0 },
    responseErrors: { empty: 0, timeout: 0 },
    rates,
    ewmaConnectMs: 1.2,
    ewmaFirstByteMs: 4.5,
    connectMs: { p50: 1, p95: 2.5, p99: 4 },
    firstByteMs: { p50: 3, p95: 9, p99: 20 },
    check: { type: 'tcp', result: 'ok', durationMs: 0.7, time: 1_700_000_000_000, detail: '' },
    agent: { cpu: null, memory: null, connections: null },
    removed: false,
    source: null,
  };
}

export class FakeContext implements ControlContext {
  backends: BackendSnapshot[];
  pools: PoolSnapshot[];
  listenerEnabled = new Map([['web', true]]);
  readonly calls: string[] = [];
  readonly actions: Array<{ command: string; ok: boolean; message: string }> = [];
  nextReload: ReloadResult = {
    ok: true,
    outcome: 'applied',
    code: null,
    generation: 2,
    errors: [],
    changes: ['backend web/b3 added'],
    keys: ['pool.web.backend.b3'],
  };
  reloadDelayMs = 0;
  snapshots = 0;
  phase: ServicePhase = 'serving';
  private readonly listeners = new Set<(e: DaemonEvent) => void>();
  private readonly history: DaemonEvent[] = [];

  constructor(backendsPerPool = 2) {
    this.backends = [];
    for (const pool of ['web', 'db']) {
      for (let i = 1; i <= backendsPerPool; i++) this.backends.push(backend(pool, `b${i}`, 5000 + i));
    }
    this.pools = ['web', 'db'].map((name) => ({
      name,
      algorithm: 'round_robin',
      activeAlgorithm: 'round_robin',
      adaptiveSwitches: 0,
      adaptiveReason: null,
      retries: 0,
      queued: 0,
      backends: this.backends.filter((b) => b.pool === name).map((b) => b.key),
      up: backendsPerPool,
      total: backendsPerPool,
      rates,
      discovery: [],
    }));
  }

  snapshot(): Snapshot {
    this.snapshots++;
    return {
      time: Date.now(),
      info: {
        name: 'netmon',
        version: '0.1.0',
        pid: process.pid,
        node: process.version,
        startTime: Date.now() - 3_723_000,
        uptimeSeconds: 3723,
        workers: 2,
        configFile: '/etc/netmon/netmon.toml',
        generation: 1,
        reloads: 1,
        reloadFailures: 1,
        lastReload: {
          ok: false,
          outcome: 'refused',
          time: Date.now(),
          errors: ['netmon.toml:12: pool.web.backend[2].weight: must be 1..256, got -4 [E_WEIGHT_RANGE]'],
        },
        controlSocket: '/run/netmon/netmon.sock',
        metricsListen: '127.0.0.1:9469',
        discoveryRefusals: 0,
        health: this.serviceHealth(),
      },
      process: {
        cpu: 0.05,
        rssBytes: 80 * 1024 * 1024,
        heapUsedBytes: 20 * 1024 * 1024,
        loopLagMs: 0.4,
        openFds: 41,
        maxFds: 65536,
        probesWithoutFds: 0,
      },
      workers: [
        {
          id: 0,
          threadId: 1,
          alive: true,
          starts: 1,
          active: 3,
          accepted: 60,
          loopLagMs: 0.2,
          cpuSeconds: 1.5,
          accessSuppressed: 0,
          nativeRelay: false,
          relayInPlace: false,
          ...noFaults,
        },
        {
          id: 1,
          threadId: 2,
          alive: true,
          starts: 1,
          active: 3,
          accepted: 60,
          loopLagMs: 0.3,
          cpuSeconds: 1.4,
          accessSuppressed: 0,
          nativeRelay: false,
          relayInPlace: false,
          ...noFaults,
        },
      ],
      listeners: [
        {
          name: 'web',
          bind: '0.0.0.0:8080',
          configuredBind: '0.0.0.0:8080',
          pool: 'web',
          enabled: this.listenerEnabled.get('web')!,
          active: 6,
          maxConnections: 10000,
          accepted: 120,
          bytesIn: 1000,
          bytesOut: 2000,
          rejected: { acl: 1 },
          protocols: { http: 120 },
          peekMisses: {},
          resets: { client: 0, backend: 0 },
          rates,
          serving: '0.0.0.0:8080',
          error: null,
        },
      ],
      pools: this.pools,
      backends: this.backends,
      alerts: [
        {
          name: 'backend_down',
          subject: 'db/b2',
          state: 'firing',
          severity: 'critical',
          message: 'db/b2 is down',
          since: 1_700_000_000_000,
          firedAt: 1_700_000_000_000,
          resolvedAt: null,
          value: 1,
          threshold: 1,
        },
      ],
    };
  }

  events(limit: number): DaemonEvent[] {
    this.calls.push(`events ${limit}`);
    return this.history.slice(-limit);
  }

  onEvent(listener: (e: DaemonEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get eventListeners(): number {
    return this.listeners.size;
  }

  emit(e: DaemonEvent): void {
    this.history.push(e);
    for (const l of this.listeners) l(e);
  }

  private find(key: string): BackendSnapshot {
    const b = this.backends.find((x) => x.key === key);
    if (!b) throw new NetmonError('E_NOT_FOUND', `no backend named "${key}"`);
    return b;
  }

  setState(key: string, state: AdminStateName): void {
    this.calls.push(`setState ${key} ${state}`);
    this.find(key).admin = state;
  }

  setWeight(key: string, weight: number): void {
    this.calls.push(`setWeight ${key} ${weight}`);
    this.find(key).weight = weight;
  }

  /** the fleet: every backend of pool "db" comes from etcd here */
  async setFleetState(key: string, state: AdminStateName): Promise<void> {
    this.calls.push(`setFleetState ${key} ${state}`);
    const b = this.find(key);
    if (b.pool !== 'db') throw new NetmonError('E_BAD_ARGUMENT', `${key} does not come from etcd`);
    b.admin = state;
  }

  async setFleetWeight(key: string, weight: number): Promise<void> {
    this.calls.push(`setFleetWeight ${key} ${weight}`);
    const b = this.find(key);
    if (b.pool !== 'db') throw new NetmonError('E_BAD_ARGUMENT', `${key} does not come from etcd`);
    b.weight = weight;
  }

  setAlgorithm(pool: string, algorithm: string): void {
    this.calls.push(`setAlgorithm ${pool} ${algorithm}`);
    const p = this.pools.find((x) => x.name === pool);
    if (!p) throw new NetmonError('E_NOT_FOUND', `no pool named "${pool}"`);
    p.algorithm = algorithm;
  }

  setListenerEnabled(name: string, enabled: boolean): void {
    this.calls.push(`setListenerEnabled ${name} ${enabled}`);
    if (!this.listenerEnabled.has(name)) throw new NetmonError('E_NOT_FOUND', `no listener named "${name}"`);
    this.listenerEnabled.set(name, enabled);
  }

  async reload(): Promise<ReloadResult> {
    this.calls.push('reload');
    if (this.reloadDelayMs > 0) await new Promise((r) => setTimeout(r, this.reloadDelayMs));
    return this.nextReload;
  }

  clients(limit: number): ClientStats[] {
    this.calls.push(`clients ${limit}`);
    return [{ address: '127.0.0.1', active: 2, connections: 40, rejected: 0 }].slice(0, limit);
  }

  serviceHealth(): HealthReport {
    const listeners = [...this.listenerEnabled].map(([name, enabled]) => ({ name, enabled, open: enabled }));
    const up = this.backends.filter((b) => b.pool === 'db' && b.op !== 'down' && b.admin === 'ready').length;
    const criticalPools = [{ pool: 'db', up, total: this.backends.filter((b) => b.pool === 'db').length }];
    return evaluateHealth({ phase: this.phase, lameDuckRemainingMs: 5000, listeners, criticalPools });
  }

  requestStop(cause: string): StopAck {
    this.calls.push(`requestStop ${cause}`);
    const started = this.phase === 'serving';
    this.phase = 'lame_duck';
    return { started, lameDuckMs: 5000, drainTimeoutMs: 30_000 };
  }

  recordAction(a: { command: string; ok: boolean; message: string }): void {
    this.actions.push(a);
  }
}
