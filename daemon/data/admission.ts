// Who may be served on a listener, decided per accepted connection in this
// order (the first refusal wins and is counted under its reason):
//   1. the listener is enabled                                   -> 'disabled'
//   2. on a PROXY listener, the peer is a trusted proxy          -> 'proxy_header'
//      (the client behind it is checked by 3 and 4 once its header is read)
//   3. allow / deny                                              -> 'acl'
//   4. the source's rate and concurrent connections              -> 'rate_limit' / 'max_connections'
//   5. the global and the listener's max_connections             -> 'max_connections'
// Steps 4 and 5 take reservations (a per-source count, a listener slot), which
// are recorded in the connection's Reservations and given back when it closes.
import type { RejectReason } from '../state/names.js';
import type { ClientAddress } from '../net/ip.js';
import type { ListenerEdge } from './edge/listener-edge.js';
import type { Reservations } from './reservations.js';

/** Steps 2 to 4 as far as they can be taken at accept, for the socket's peer. */
export function admitPeer(edge: ListenerEdge, peer: ClientAddress, held: Reservations): RejectReason | null {
  if (edge.trusted !== null) return edge.trusted.has(peer.ip) ? null : 'proxy_header';
  return admitSource(edge, peer, held);
}

/**
 * Steps 3 and 4 for the client (the peer, or the source of a PROXY header).
 * On null the source's count, if any, is held in `held`.
 */
export function admitSource(edge: ListenerEdge, client: ClientAddress, held: Reservations): RejectReason | null {
  const sources = edge.sources;
  if (edge.acl !== null && edge.acl.check(client.ip) === 'deny') {
    // counted against the source for `show clients`; nothing is held
    sources?.reject(client.ip);
    return 'acl';
  }
  if (!edge.limited) return null;
  const verdict = sources!.admit(client.ip);
  if (verdict !== 'ok') return verdict;
  held.tookSource(sources!, sources!.entry);
  return null;
}
