// What the alert rules look at, as plain data: built from the daemon's snapshot
// on the main thread, or written by hand in tests.
import type { AdminStateName, CauseName, OpStateName } from '../../state/names.js';
import type { DiscoverySnapshot, Snapshot } from '../snapshot/snapshot.js';

/**
 * The file descriptor limit in force: the lowest one a live worker applies (it
 * pauses accepting by it, and reads it again within a few accepts, even once
 * the limit is lowered under what is open), else the main thread's reading,
 * which at the limit itself keeps the last one it could read.
 */
function fdLimitInForce(snap: Snapshot): number | null {
  let limit: number | null = null;
  for (const w of snap.workers) {
    if (w.alive && w.fdLimit !== null && (limit === null || w.fdLimit < limit)) limit = w.fdLimit;
  }
  return limit ?? snap.process.maxFds;
}

export interface BackendInput {
  /** "pool/name" */
  key: string;
  pool: string;
  name: string;
  op: OpStateName;
  /** why the state last changed (BackendSnapshot.cause); absent in hand-written inputs */
  cause?: CauseName;
  admin: AdminStateName;
  backup: boolean;
  removed: boolean;
  /** configured weight */
  weight: number;
  effectiveWeight: number;
  active: number;
  /** connections relayed since start (monotonic) */
  connections: number;
  /** agent-reported percentages; null when not reported */
  agentCpu: number | null;
  agentMemory: number | null;
  /** windowed per-bucket counts of connect and first-byte time (LATENCY_BUCKETS); null before two samples */
  latency: { connect: number[]; firstByte: number[] } | null;
}

export interface AlertInputs {
  backends: BackendInput[];
  /** listeners' accepted connections since start (monotonic) */
  listeners: { name: string; accepted: number }[];
  /** the daemon process: CPU in cores over the last second, resident memory */
  process: { cpu: number; rssBytes: number };
  /**
   * The process's file descriptors: open now (-1 unknown), the limit in force
   * (fdLimitInForce; null: unlimited), EMFILE/ENFILE events since start,
   * whether a worker has stopped accepting for want of them. Absent in
   * hand-written inputs.
   */
  fds?: { open: number; limit: number | null; exhaustion: number; acceptPaused: boolean };
  /** discovery sources (absent in hand-written inputs: none) */
  discovery?: DiscoveryInput[];
}

interface DiscoveryInput {
  pool: string;
  /** "dns app.internal:8080" */
  source: string;
  state: DiscoverySnapshot['state'];
  backends: number;
  error: string | null;
}

/** Inputs from a snapshot; `latency(key)` gives a backend's windowed histograms. */
export function inputsFromSnapshot(snap: Snapshot, latency: (key: string) => BackendInput['latency']): AlertInputs {
  return {
    backends: snap.backends.map((b) => ({
      key: b.key,
      pool: b.pool,
      name: b.name,
      op: b.op,
      cause: b.cause,
      admin: b.admin,
      backup: b.backup,
      removed: b.removed,
      weight: b.weight,
      effectiveWeight: b.effectiveWeight,
      active: b.active,
      connections: b.connections,
      agentCpu: b.agent.cpu,
      agentMemory: b.agent.memory,
      latency: latency(b.key),
    })),
    listeners: snap.listeners.map((l) => ({ name: l.name, accepted: l.accepted })),
    process: { cpu: snap.process.cpu, rssBytes: snap.process.rssBytes },
    fds: {
      open: snap.process.openFds,
      limit: fdLimitInForce(snap),
      exhaustion:
        snap.process.probesWithoutFds + snap.workers.reduce((n, w) => n + w.fdAcceptPauses + w.fdConnectFailures, 0),
      acceptPaused: snap.workers.some((w) => w.alive && w.acceptPaused),
    },
    discovery: snap.pools.flatMap((p) =>
      p.discovery.map((d) => ({
        pool: p.name,
        source: d.source,
        state: d.state,
        backends: d.backends,
        error: d.error,
      })),
    ),
  };
}
