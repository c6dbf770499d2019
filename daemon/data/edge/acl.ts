// Listener access control from two lists of ranges, evaluated before anything
// else on an accepted connection.
//
// Semantics (the config has separate `allow` and `deny` lists, so rule order
// cannot carry meaning as it does in nginx):
//   1. an address in `deny` is rejected, even if `allow` also lists it;
//   2. otherwise, if `allow` is non-empty, an address not in it is rejected;
//   3. otherwise the address is accepted.
// An address that is not an IP is rejected whenever either list is set: access
// control fails closed. IPv4-mapped clients and ranges follow ip.ts.
import type { IpAddress, IpRange } from '../../net/ip.js';
import { IpRangeSet } from './range-set.js';

export type AclVerdict = 'allow' | 'deny';

export class Acl {
  readonly allow: IpRangeSet;
  readonly deny: IpRangeSet;

  /** From the plan's validated lists; throws RangeError on a range that is not valid (see IpRangeSet). */
  constructor(allow: readonly IpRange[], deny: readonly IpRange[]) {
    this.allow = new IpRangeSet(allow);
    this.deny = new IpRangeSet(deny);
  }

  /** The decision for a client; `null` is a client address that is not an IP. */
  check(address: IpAddress | null): AclVerdict {
    if (address === null) return 'deny';
    if (this.deny.has(address)) return 'deny';
    if (this.allow.size > 0 && !this.allow.has(address)) return 'deny';
    return 'allow';
  }

  /** An Acl when either list is set, else null (the accept path then skips the check). */
  static of(lists: { allow: readonly IpRange[]; deny: readonly IpRange[] }): Acl | null {
    return lists.allow.length === 0 && lists.deny.length === 0 ? null : new Acl(lists.allow, lists.deny);
  }
}
