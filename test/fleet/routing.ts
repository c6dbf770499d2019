// keepalived and BIRD for the fleet tests, without systemd: in the foreground,
// each with its own config, PID files and control socket in the lab's directory.
// The lb side runs the files in conf/ with only their site settings replaced.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Lab, until, type LabProcess } from './lab.js';
import {
  buildHosts,
  lbAddress,
  renderConf,
  ROOT,
  ROUTER_LB,
  RouteWatch,
  startBackends,
  startNetmon,
  type NetmonInstance,
  type RouteChange,
} from './fleet-lab.js';

const run = promisify(execFile);
const NETMON = join(ROOT, 'bin', 'netmon');

export const ROUTER_AS = 65000;
export const FLEET_AS = 65001;

export interface Bird {
  proc: LabProcess;
  socket: string;
  birdc(...args: string[]): Promise<string>;
}

function startBird(lab: Lab, host: string, conf: string): Bird {
  const file = join(lab.dir, `bird-${host}.conf`);
  writeFileSync(file, conf);
  const socket = join(lab.dir, `bird-${host}.ctl`);
  const proc = lab.start(host, `bird-${host}`, [
    'bird',
    '-f',
    '-c',
    file,
    '-s',
    socket,
    '-P',
    join(lab.dir, `bird-${host}.pid`),
  ]);
  return {
    proc,
    socket,
    birdc: async (...args) => (await run('birdc', ['-s', socket, ...args], { timeout: 5000 })).stdout,
  };
}

/** BIRD in the router: one BGP session per lb, every equal path merged into one multipath route. */
export function startRouterBird(lab: Lab, lbs: number): Bird {
  const sessions = Array.from(
    { length: lbs },
    (_, k) => `protocol bgp lb${k + 1} from fleet { neighbor ${lbAddress(k + 1)} as ${FLEET_AS}; }`,
  );
  const conf = [
    `log "${join(lab.dir, 'bird-router.log')}" all;`,
    `router id ${ROUTER_LB};`,
    'protocol device { }',
    '# every equal best path of a prefix goes into one kernel route (ECMP)',
    'protocol kernel { ipv4 { import none; export all; }; merge paths on; }',
    'template bgp fleet {',
    `  local ${ROUTER_LB} as ${ROUTER_AS};`,
    '  hold time 9; keepalive time 3; connect delay time 1; connect retry time 2; error wait time 1, 10;',
    '  ipv4 { import all; export none; };',
    '}',
    ...sessions,
    '',
  ].join('\n');
  return startBird(lab, 'router', conf);
}

/** conf/bird.conf in lbN, announcing `vip` to the router. */
export function startLbBird(lab: Lab, lb: number, vip: string): Bird {
  const conf = renderConf(
    'bird.conf',
    { VIP: `${vip}/32`, ROUTER: ROUTER_LB, ROUTER_AS: String(ROUTER_AS), LOCAL_AS: String(FLEET_AS) },
    [[/^log syslog all;$/m, `log "${join(lab.dir, `bird-lb${lb}.log`)}" all;`]],
  );
  return startBird(lab, `lb${lb}`, conf);
}

/** `netmon announce` in lbN, switching conf/bird.conf's netmon_vip with birdc as netmon's health changes. */
export function startAnnounce(lab: Lab, n: NetmonInstance, bird: Bird): LabProcess {
  const birdc = `birdc -s ${bird.socket}`;
  return lab.start(`lb${n.lb}`, `announce-lb${n.lb}`, [
    NETMON,
    'announce',
    '--socket',
    n.socket,
    '--interval',
    '100ms',
    '--up',
    `${birdc} enable netmon_vip`,
    '--down',
    `${birdc} disable netmon_vip`,
  ]);
}

/** conf/keepalived.conf in lbN (`-i lbN`), holding `vip` on eth0; the track script asks netmon n's /healthz. */
export function startKeepalived(lab: Lab, n: NetmonInstance, vip: string): LabProcess {
  // each lb's netmon serves /healthz on 127.0.0.1:9469 of its own namespace: the default
  const conf = renderConf('keepalived.conf', {
    HEALTHZ: 'http://127.0.0.1:9469/healthz',
    IFACE: 'eth0',
    VIP: `${vip}/24`,
    VRID: '51',
  });
  const file = join(lab.dir, `keepalived-lb${n.lb}.conf`);
  writeFileSync(file, conf);
  const vrrpPid = join(lab.dir, `keepalived-lb${n.lb}-vrrp.pid`);
  lab.trackPidFile(vrrpPid);
  return lab.start(`lb${n.lb}`, `keepalived-lb${n.lb}`, [
    'keepalived',
    '--dont-fork',
    '--log-console',
    '--log-detail',
    '--no-syslog',
    '--vrrp',
    '--use-file',
    file,
    '--config-id',
    `lb${n.lb}`,
    '--pid',
    join(lab.dir, `keepalived-lb${n.lb}.pid`),
    '--vrrp_pid',
    vrrpPid,
  ]);
}

/** The routing table and the mark of lbN's pinned flows in the router (conf/router-flow-pinning.nft's example numbering). */
export const pinTable = (lb: number): number => 100 + lb;

/**
 * conf/router-flow-pinning.nft in the router, for `vip` over lb1..lbN, with what
 * its header asks of the router besides: per instance a policy rule and a
 * static route in its own table, and conntrack's liberal TCP window.
 */
export async function pinFlows(lab: Lab, lbs: number, vip: string): Promise<void> {
  const instances = Array.from({ length: lbs }, (_, k) => `${lbAddress(k + 1)} : ${pinTable(k + 1)}`);
  const file = join(lab.dir, 'router-flow-pinning.nft');
  writeFileSync(file, renderConf('router-flow-pinning.nft', { VIP: vip, INSTANCES: `{ ${instances.join(', ')} }` }));
  await lab.exec('router', ['nft', '-f', file]);
  await lab.sysctl('router', 'net.netfilter.nf_conntrack_tcp_be_liberal=1');
  for (let i = 1; i <= lbs; i++) {
    const table = String(pinTable(i));
    await lab.ip('router', 'rule', 'add', 'fwmark', table, 'lookup', table, 'priority', '1000');
    await lab.ip('router', 'route', 'add', `${vip}/32`, 'via', lbAddress(i), 'table', table);
  }
}

/** lb address on the router's side -> its number (10.0.0.12 -> 2) */
export const lbOfRouterSide = (addr: string): number => Number(addr.slice(addr.lastIndexOf('.') + 1)) - 10;

export interface EcmpFleet {
  sources: string[];
  netmons: NetmonInstance[];
  routes: RouteWatch;
  /** the router's route once every instance is in it */
  all: RouteChange;
}

/**
 * lb1..lbN each with `vip` on lo, netmon bound to vip:80 (backends in `orders[i]`),
 * conf/bird.conf and `netmon announce`; the router's BIRD merging their paths,
 * and with `pinning` conf/router-flow-pinning.nft (else the router is plain ECMP).
 * Resolves once the router routes `vip` over every instance.
 */
export async function startEcmpFleet(
  lab: Lab,
  o: { lbs: number; vip: string; orders: number[][]; announceDrain: string; sources: number; pinning: boolean },
): Promise<EcmpFleet> {
  const sources = await buildHosts(lab, o.lbs, o.sources);
  if (o.pinning) await pinFlows(lab, o.lbs, o.vip);
  for (let i = 1; i <= o.lbs; i++) await lab.ip(`lb${i}`, 'addr', 'add', `${o.vip}/32`, 'dev', 'lo');
  await startBackends(lab);
  const routes = new RouteWatch(lab, 'router', o.vip);
  startRouterBird(lab, o.lbs);
  const netmons = await Promise.all(
    Array.from({ length: o.lbs }, (_, k) =>
      startNetmon(lab, k + 1, { bind: `${o.vip}:80`, order: o.orders[k]!, announceDrain: o.announceDrain }),
    ),
  );
  for (const n of netmons) startAnnounce(lab, n, startLbBird(lab, n.lb, o.vip));
  const all = await until(
    'the router to route the virtual address over every instance',
    () => routes.changes.findLast((c) => c.via.length === o.lbs) ?? null,
    30_000,
    100,
  );
  return { sources, netmons, routes, all };
}
