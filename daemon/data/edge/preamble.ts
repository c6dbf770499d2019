// What a listener reads from a client before picking a backend: the PROXY
// header (trusted sources only, required, parsed strictly, bounded in time
// and size), then, on a listener with routes, the bounded peek at the first
// bytes that chooses the pool. Every byte read after the PROXY header is handed
// on to the relay unchanged. (A listener that only counts protocols does not
// wait here: see protocol-watch.ts.)
import type { Socket } from 'node:net';
import type { PeekMissReason } from '../../state/names.js';
import { clientAddress, type ClientAddress } from '../../net/ip.js';
import type { ListenerEdge } from './listener-edge.js';
import { parseProxyHeader, PROXY_V2_DEFAULT_MAX, type Endpoint, type ProxyParseResult } from './proxy-protocol.js';
import { readUntil } from './read-until.js';
import type { PeekResult } from './router.js';

/** How long a trusted proxy may take to send its PROXY header (HAProxy bounds it by `timeout client`). */
export const PROXY_HEADER_TIMEOUT_MS = 3000;

export interface Origin {
  source: Endpoint;
  destination: Endpoint;
}

export type Preamble =
  | {
      ok: true;
      /** the client as algorithms, ACLs, limits and logs see it: from the PROXY header when there was one */
      client: ClientAddress;
      /** the addresses a PROXY header carried, passed on by `send_proxy`; null = the socket's own */
      origin: Origin | null;
      /** bytes read after the PROXY header (peeked or not), to relay first */
      data: Buffer | null;
      /** the client sent FIN during the preamble */
      ended: boolean;
      /** null when the listener does not wait for a peek (no routes) */
      peek: PeekResult | null;
      /** why the peek ended before the bytes decided (`too_large`, `timeout`, `client_end`); null when they did */
      cut: PeekMissReason | null;
    }
  /** 'proxy_header': a bad, missing or late header; 'closed': the client went away (not counted) */
  | { ok: false; reason: 'proxy_header' | 'closed'; detail: string };

function decideProxy(buf: Buffer): ProxyParseResult | null {
  const r = parseProxyHeader(buf);
  return r.status === 'incomplete' ? null : r;
}

// Keeps an 'error' from a socket between two reads (no listener of ours
// attached for a tick) from being thrown; the reads themselves see the close.
function ignoreError(): void {}

export async function readPreamble(edge: ListenerEdge, socket: Socket, peer: ClientAddress): Promise<Preamble> {
  socket.on('error', ignoreError);
  let client = peer;
  let origin: Origin | null = null;
  let data: Buffer | null = null;
  if (edge.trusted !== null) {
    const r = await readUntil(socket, null, PROXY_V2_DEFAULT_MAX, PROXY_HEADER_TIMEOUT_MS, decideProxy);
    if (r.end === 'closed') return { ok: false, reason: 'closed', detail: 'client closed before its PROXY header' };
    const h = r.decision;
    if (h === null) return { ok: false, reason: 'proxy_header', detail: `no PROXY header (${r.end})` };
    if (h.status !== 'ok')
      return { ok: false, reason: 'proxy_header', detail: h.status === 'invalid' ? h.reason : 'incomplete' };
    if (edge.proxyMode !== 'any' && `v${h.version}` !== edge.proxyMode) {
      return {
        ok: false,
        reason: 'proxy_header',
        detail: `PROXY v${h.version} header on a listener that takes ${edge.proxyMode}`,
      };
    }
    // LOCAL, UNKNOWN and non-IP families keep the connection's own address (spec)
    if (h.command === 'proxy' && h.source && h.destination && h.family !== 'unix') {
      client = clientAddress(h.source.address);
      origin = { source: h.source, destination: h.destination };
    }
    if (r.data.length > h.headerLength) data = r.data.subarray(h.headerLength);
  }
  let peek: PeekResult | null = null;
  let cut: PeekMissReason | null = null;
  let ended = false;
  if (edge.router !== null) {
    const router = edge.router;
    const r = await readUntil(socket, data, edge.inspectBytes, edge.inspectDelay, router.decide);
    if (r.end === 'closed') return { ok: false, reason: 'closed', detail: 'client closed during the inspect delay' };
    peek = r.decision ?? router.final(r.data);
    if (r.decision === null) cut = r.end === 'limit' ? 'too_large' : r.end === 'timeout' ? 'timeout' : 'client_end';
    ended = r.end === 'ended';
    data = r.data.length > 0 ? r.data : null;
  }
  return { ok: true, client, origin, data, ended, peek, cut };
}
