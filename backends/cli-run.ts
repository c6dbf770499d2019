// `netmon backends`: starts N simulated backends in this process and keeps them
// until SIGINT/SIGTERM. SIGUSR1 prints each backend's stats; SIGUSR2 resets every
// backend to the behaviour it started with (lifting faults, reopening listeners).
import { NetmonError } from '../daemon/errors.js';
import { parsePatch, type BehaviourPatch, type SimFault } from './behaviour.js';
import { startControlServer } from './control-server.js';
import { formatLatency } from './latency.js';
import { startBackends, type BackendMode, type SimBackend, type SimEvent } from './sim-backend.js';

export interface BackendsCliOptions {
  count: number;
  basePort: number;
  host: string;
  mode: BackendMode;
  /** each a comma-separated list: value i applies to backend i, the last one to the rest */
  latency?: string;
  errorRate?: string;
  cpuBurn?: string;
  fault?: string;
  errorSpread?: string;
  dataSize?: number;
  sourceBytes?: number;
  crashExits?: boolean;
  /** an HTTP control endpoint for all backends (GET/POST /NAME/_sim); 0 or absent: none */
  controlPort?: number;
}

function pick(list: string | undefined, i: number): string | undefined {
  if (list === undefined) return undefined;
  const parts = list.split(',').map((s) => s.trim());
  return parts[Math.min(i, parts.length - 1)];
}

function behavioursFromFlags(o: BackendsCliOptions): BehaviourPatch[] {
  const out: BehaviourPatch[] = [];
  for (let i = 0; i < o.count; i++) {
    const p: BehaviourPatch = {};
    const latency = pick(o.latency, i);
    const errorRate = pick(o.errorRate, i);
    const cpuBurn = pick(o.cpuBurn, i);
    const fault = pick(o.fault, i);
    if (latency !== undefined) p.latency = latency;
    if (cpuBurn !== undefined) p.cpuBurn = cpuBurn;
    if (errorRate !== undefined) {
      const n = Number(errorRate);
      if (errorRate === '' || !Number.isFinite(n))
        throw new NetmonError('E_BAD_ARGUMENT', `--error-rate: not a number: "${errorRate}"`);
      p.errorRate = n;
    }
    if (fault !== undefined) p.fault = fault as SimFault;
    if (o.errorSpread !== undefined) p.errorSpread = o.errorSpread as BehaviourPatch['errorSpread'];
    if (o.dataSize !== undefined) p.dataSize = o.dataSize;
    out.push(parsePatch(p));
  }
  return out;
}

function line(text: string): void {
  process.stdout.write(`${new Date().toISOString()} ${text}\n`);
}

function onEvent(e: SimEvent): void {
  if (e.type === 'fault') line(`${e.name} fault ${e.previous} -> ${e.fault}`);
  else if (e.type === 'listener-closed' && e.reason !== 'stop') line(`${e.name} listener closed (${e.reason})`);
}

export async function runBackendsCli(o: BackendsCliOptions): Promise<void> {
  const backends: SimBackend[] = await startBackends(o.count, {
    basePort: o.basePort,
    host: o.host,
    mode: o.mode,
    behaviour: behavioursFromFlags(o),
    exitOnCrash: o.crashExits ?? false,
    ...(o.sourceBytes !== undefined ? { sourceBytes: o.sourceBytes } : {}),
    onEvent,
  });
  for (const b of backends) {
    const h = b.behaviour();
    line(
      `${b.name} listening on ${b.address} (${b.mode}; latency ${formatLatency(h.latency)}, ` +
        `error rate ${h.errorRate}, cpu burn ${h.cpuBurnMs}ms, fault ${h.fault})`,
    );
  }
  const control = o.controlPort ? await startControlServer(backends, o.host, o.controlPort) : undefined;
  if (control)
    line(`control: http://${o.host}:${o.controlPort}/NAME/_sim (GET, POST a behaviour, POST /NAME/_sim/reset)`);
  line(`pid ${process.pid}: SIGUSR1 prints stats, SIGUSR2 resets behaviour, SIGINT/SIGTERM stops`);
  process.on('SIGUSR1', () => {
    for (const b of backends) line(JSON.stringify(b.stats()));
  });
  process.on('SIGUSR2', () => {
    for (const b of backends) {
      b.reset().then(
        () => line(`${b.name} reset`),
        (err: unknown) => line(`${b.name} reset failed: ${String(err)}`),
      );
    }
  });
  await new Promise<void>((resolve) => {
    const stop = (sig: NodeJS.Signals): void => {
      line(`${sig}: stopping ${backends.length} backend(s)`);
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  control?.close();
  await Promise.all(backends.map((b) => b.stop()));
}
