// Listener access control from two CIDR lists, evaluated before anything else
// on an accepted connection.
//
// Semantics (the config has separate `allow` and `deny` lists, so rule order
// cannot carry meaning as it does in nginx):
//   1. an address in `deny` is rejected, even if `allow` also lists it;
//   2. otherwise, if `allow` is non-empty, an address not in it is rejected;
//   3. otherwise the address is accepted.
// An address that cannot be parsed is rejected whenever either list is set:
// access control fails closed.
import { CidrList } from './cidr.js';
import { parseIp } from './ip.js';

export type AclVerdict = 'allow' | 'deny';

export class Acl {
  private readonly word = new Uint32Array(4);

  /**
   * @param allowListed whether an allow list was configured at all: a list whose
   *   entries all failed to parse must still reject, not allow everything
   */
  constructor(
    readonly allow: CidrList,
    readonly deny: CidrList,
    private readonly allowListed = allow.size > 0,
  ) {}

  check(address: string): AclVerdict {
    const fam = parseIp(address, this.word);
    if (fam === 0) return 'deny';
    if (fam === 4) {
      const a = this.word[0]!;
      if (this.deny.matchV4(a)) return 'deny';
      if (this.allowListed && !this.allow.matchV4(a)) return 'deny';
      return 'allow';
    }
    if (this.deny.matchV6(this.word)) return 'deny';
    if (this.allowListed && !this.allow.matchV6(this.word)) return 'deny';
    return 'allow';
  }
}

/**
 * Build a listener's ACL. Returns `acl: null` when both lists are empty so the
 * accept path can skip the check entirely; `errors` lists unparsable entries
 * ("allow[1]: ...") for the config loader to report.
 */
export function compileAcl(allow: readonly string[], deny: readonly string[]): { acl: Acl | null; errors: string[] } {
  const a = CidrList.parse(allow);
  const d = CidrList.parse(deny);
  const errors = [...a.errors.map((e) => `allow: ${e}`), ...d.errors.map((e) => `deny: ${e}`)];
  if (allow.length === 0 && deny.length === 0) return { acl: null, errors };
  return { acl: new Acl(a.list, d.list, allow.length > 0), errors };
}
