// Every parser the fuzzer runs, in the order of the table.
import type { FuzzTarget } from '../target.js';
import { agentTarget } from './agent.js';
import { clientHelloTarget } from './client-hello.js';
import { configTarget } from './config.js';
import { controlFramingTarget } from './control-framing.js';
import { controlRequestTarget } from './control-request.js';
import { etcdEntryTarget } from './etcd-entry.js';
import { greetingTarget } from './greeting.js';
import { healthHttpTarget } from './health-http.js';
import { proxyTarget } from './proxy.js';
import { sniffTarget } from './sniff.js';

export const TARGETS: readonly FuzzTarget[] = [
  proxyTarget,
  clientHelloTarget,
  sniffTarget,
  greetingTarget,
  configTarget,
  controlRequestTarget,
  controlFramingTarget,
  healthHttpTarget,
  agentTarget,
  etcdEntryTarget,
] as FuzzTarget[];

export function targetNamed(name: string): FuzzTarget {
  const t = TARGETS.find((x) => x.name === name);
  if (!t) throw new Error(`no fuzz target "${name}" (targets: ${TARGETS.map((x) => x.name).join(', ')})`);
  return t;
}
