// The control socket's command table: every command's name, help, arguments,
// handler and text formatter in one place. The socket server, `netmon ctl` and the
// `help` command read this table; a test checks that docs/control.md lists the same commands.
//
// Naming: a command is a few words (`show backends`). In text it is typed as
// words followed by positional arguments (`show backends web`); in JSON, `cmd`
// is the words joined by dashes (`"cmd":"show-backends"`, words are accepted
// too) and `args` names the arguments (`"args":{"pool":"web"}`).
import { ALGORITHMS } from '../../config/schema.js';
import { NetmonError } from '../../errors.js';
import { ADMIN_NAMES, type AdminStateName } from '../../state/names.js';
import { parseObject, parseWords, usageOf, type ArgSpec, type Args } from './args.js';
import type { ControlContext } from './context.js';
import * as f from './format.js';

/** request: one reply; subscribe: a stream until the client leaves; quit: close the connection. */
type CommandKind = 'request' | 'subscribe' | 'quit';

export interface Command {
  /** words, e.g. "show backends" */
  name: string;
  /** the JSON `cmd`: words joined by dashes */
  id: string;
  help: string;
  args: readonly ArgSpec[];
  kind: CommandKind;
  /** changes state: logged and recorded as an action event */
  mutates: boolean;
  run(ctx: ControlContext, args: Args): unknown;
  text(data: unknown, args: Args): string;
  /** `netmon ctl`'s exit code for a successful reply (0 unless the command says otherwise) */
  exitCode(data: unknown): number;
}

interface Def<D> {
  name: string;
  help: string;
  args?: ArgSpec[];
  kind?: CommandKind;
  mutates?: boolean;
  run(ctx: ControlContext, args: Args): D | Promise<D>;
  text(data: D, args: Args): string;
  exitCode?(data: D): number;
}

function def<D>(d: Def<D>): Command {
  return {
    name: d.name,
    id: d.name.replace(/ /g, '-'),
    help: d.help,
    args: d.args ?? [],
    kind: d.kind ?? 'request',
    mutates: d.mutates ?? false,
    run: (ctx, args) => d.run(ctx, args),
    text: (data, args) => d.text(data as D, args),
    exitCode: (data) => d.exitCode?.(data as D) ?? 0,
  };
}

const str = (a: Args, k: string): string => a[k] as string;
const num = (a: Args, k: string): number => a[k] as number;

const BACKEND: ArgSpec = { name: 'backend', metavar: 'POOL/BACKEND', kind: 'backend' };
const LISTENER: ArgSpec = { name: 'listener', metavar: 'LISTENER', kind: 'name' };

const MIN_SUBSCRIBE_INTERVAL_MS = 100;
/** `netmon ctl show health` exit code when the daemon answers "unhealthy" (2 = unreachable, 1 = error reply) */
export const EXIT_UNHEALTHY = 3;

interface ActionResult {
  message: string;
}

function action(message: string): ActionResult {
  return { message };
}

function setState(ctx: ControlContext, backend: string, state: AdminStateName): ActionResult {
  ctx.setState(backend, state);
  return action(`${backend}: admin state ${state}`);
}

/** `fleet`: the change goes to etcd, for every instance watching the backend's prefix (`netmon ctl ... --fleet`). */
const SCOPE: ArgSpec = {
  name: 'scope',
  metavar: 'local|fleet',
  kind: 'enum',
  values: ['local', 'fleet'],
  optional: true,
};
const fleet = (a: Args): boolean => a.scope === 'fleet';

/**
 * A reload's text report: the summary lines (or "no changes"), then every
 * changed key path in the file's spelling ("pool.web.timeouts.idle"), so a
 * change that applied without a summary of its own is still named.
 */
function reloadReport(r: { changes: readonly string[]; keys: readonly string[] }): string[] {
  const out = (r.changes.length ? r.changes : ['no changes']).map((c) => '  ' + c);
  if (r.keys.length > 0) out.push(`changed keys (${r.keys.length}):`, ...r.keys.map((k) => '  ' + k));
  return out;
}

function withLimit(n: number | undefined, dflt: number): number {
  return n ?? dflt;
}

const COMMANDS: readonly Command[] = [
  def({
    name: 'show info',
    help: 'version, uptime, workers, config file and generation, last reload result',
    run: (ctx): f.InfoData => {
      const s = ctx.snapshot();
      return { ...s.info, process: s.process };
    },
    text: f.formatInfo,
  }),
  def({
    name: 'show stats',
    help: 'all counters: process, workers, listeners, pools, backends',
    run: (ctx): f.StatsData => {
      const s = ctx.snapshot();
      return {
        time: s.time,
        process: s.process,
        workers: s.workers,
        listeners: s.listeners,
        pools: s.pools,
        backends: s.backends,
      };
    },
    text: f.formatStats,
  }),
  def({
    name: 'show listeners',
    help: 'listeners with their state and traffic',
    run: (ctx) => ctx.snapshot().listeners,
    text: f.formatListeners,
  }),
  def({
    name: 'show pools',
    help: 'pools with their algorithm and health summary',
    run: (ctx) => ctx.snapshot().pools,
    text: f.formatPools,
  }),
  def({
    name: 'show backends',
    help: 'backends (of one pool) with state, weight, traffic, errors and latency',
    args: [{ name: 'pool', metavar: 'POOL', kind: 'name', optional: true }],
    run: (ctx, a) => {
      const s = ctx.snapshot();
      const pool = a.pool as string | undefined;
      if (pool === undefined) return s.backends;
      if (!s.pools.some((p) => p.name === pool)) throw new NetmonError('E_NOT_FOUND', `no pool named "${pool}"`);
      return s.backends.filter((b) => b.pool === pool);
    },
    text: f.formatBackends,
  }),
  def({
    name: 'show alerts',
    help: 'pending and firing alerts, then recently resolved ones',
    run: (ctx) => ctx.snapshot().alerts,
    text: f.formatAlerts,
  }),
  def({
    name: 'show events',
    help: 'recent events (state changes, reloads, alerts, actions), oldest first',
    args: [{ name: 'limit', metavar: 'N', kind: 'int', min: 1, max: 10000, default: 20, optional: true }],
    run: (ctx, a) => ctx.events(withLimit(a.limit as number | undefined, 20)),
    text: f.formatEvents,
  }),
  def({
    name: 'show clients',
    help: 'client addresses with the most connections (rate-limit view)',
    args: [{ name: 'limit', metavar: 'N', kind: 'int', min: 1, max: 10000, default: 20, optional: true }],
    run: (ctx, a) => ctx.clients(withLimit(a.limit as number | undefined, 20)),
    text: f.formatClients,
  }),
  def({
    name: 'show health',
    help: `whether this instance should get new traffic (as /healthz); \`netmon ctl\` exits 0 healthy, ${EXIT_UNHEALTHY} unhealthy`,
    run: (ctx) => ctx.serviceHealth(),
    text: f.formatHealth,
    exitCode: (h) => (h.healthy ? 0 : EXIT_UNHEALTHY),
  }),
  def({
    name: 'set state',
    help: 'admin state of a backend: ready takes traffic, drain keeps its connections but gets no new ones, maint neither; fleet: written to its etcd entry, for every instance',
    args: [BACKEND, { name: 'state', metavar: 'STATE', kind: 'enum', values: ADMIN_NAMES }, SCOPE],
    mutates: true,
    run: async (ctx, a) => {
      const backend = str(a, 'backend');
      const state = str(a, 'state') as AdminStateName;
      if (!fleet(a)) return setState(ctx, backend, state);
      await ctx.setFleetState(backend, state);
      return action(`${backend}: admin state ${state} (fleet: written to etcd)`);
    },
    text: (d) => d.message,
  }),
  def({
    name: 'set weight',
    help: 'configured weight of a backend (1..256); kept across reloads unless the config changes it; fleet: written to its etcd entry',
    args: [BACKEND, { name: 'weight', metavar: 'N', kind: 'int', min: 1, max: 256 }, SCOPE],
    mutates: true,
    run: async (ctx, a) => {
      const backend = str(a, 'backend');
      if (fleet(a)) await ctx.setFleetWeight(backend, num(a, 'weight'));
      else ctx.setWeight(backend, num(a, 'weight'));
      return action(`${backend}: weight ${num(a, 'weight')}${fleet(a) ? ' (fleet: written to etcd)' : ''}`);
    },
    text: (d) => d.message,
  }),
  def({
    name: 'set algorithm',
    help: `balancing algorithm of a pool: ${ALGORITHMS.join(', ')}`,
    args: [
      { name: 'pool', metavar: 'POOL', kind: 'name' },
      { name: 'algorithm', metavar: 'ALGORITHM', kind: 'enum', values: ALGORITHMS },
    ],
    mutates: true,
    run: (ctx, a) => {
      ctx.setAlgorithm(str(a, 'pool'), str(a, 'algorithm'));
      return action(`${str(a, 'pool')}: algorithm ${str(a, 'algorithm')}`);
    },
    text: (d) => d.message,
  }),
  def({
    name: 'enable listener',
    help: 'accept connections on a listener again',
    args: [LISTENER],
    mutates: true,
    run: (ctx, a) => {
      ctx.setListenerEnabled(str(a, 'listener'), true);
      return action(`${str(a, 'listener')}: enabled`);
    },
    text: (d) => d.message,
  }),
  def({
    name: 'disable listener',
    help: 'stop accepting on a listener; its open connections continue',
    args: [LISTENER],
    mutates: true,
    run: (ctx, a) => {
      ctx.setListenerEnabled(str(a, 'listener'), false);
      return action(`${str(a, 'listener')}: disabled`);
    },
    text: (d) => d.message,
  }),
  def({
    name: 'enable backend',
    help: 'same as `set state POOL/BACKEND ready`',
    args: [BACKEND],
    mutates: true,
    run: (ctx, a) => setState(ctx, str(a, 'backend'), 'ready'),
    text: (d) => d.message,
  }),
  def({
    name: 'disable backend',
    help: 'same as `set state POOL/BACKEND maint`',
    args: [BACKEND],
    mutates: true,
    run: (ctx, a) => setState(ctx, str(a, 'backend'), 'maint'),
    text: (d) => d.message,
  }),
  def({
    name: 'reload',
    help: 'reread and apply the config file; answers when done, with what changed, what could not be applied (E_LISTEN, E_PLAN) or why it was refused',
    mutates: true,
    run: async (ctx) => {
      const r = await ctx.reload();
      if (r.outcome === 'refused') {
        throw new NetmonError(
          'E_RELOAD_FAILED',
          ['config refused, the old one keeps running:', ...r.errors.map((e) => '  ' + e)].join('\n'),
        );
      }
      if (r.outcome === 'partial') {
        throw new NetmonError(
          r.code ?? 'E_INTERNAL',
          [
            `config applied in part, generation ${r.generation}: it runs except`,
            ...r.errors.map((e) => '  ' + e),
            'changes:',
            ...reloadReport(r),
          ].join('\n'),
        );
      }
      return r;
    },
    text: (r) => [`reload ok, generation ${r.generation}`, ...reloadReport(r)].join('\n'),
  }),
  def({
    name: 'stop',
    help: 'graceful stop, as SIGTERM: unhealthy for announce_drain while still accepting, then drain_timeout for open connections',
    mutates: true,
    run: (ctx) => ctx.requestStop('ctl'),
    text: (a) =>
      a.started
        ? `stopping: unhealthy for ${a.lameDuckMs} ms while still accepting, then up to ${a.drainTimeoutMs} ms for open connections`
        : 'already stopping',
  }),
  def({
    name: 'subscribe',
    help: `stream snapshots every INTERVAL_MS (default 1000, min ${MIN_SUBSCRIBE_INTERVAL_MS}) and events as they happen, as JSON lines`,
    args: [
      {
        name: 'interval',
        metavar: 'INTERVAL_MS',
        kind: 'int',
        min: MIN_SUBSCRIBE_INTERVAL_MS,
        max: 3_600_000,
        default: 1000,
        optional: true,
      },
    ],
    kind: 'subscribe',
    run: () => null,
    text: () => '',
  }),
  def({
    name: 'help',
    help: 'list the commands',
    run: (): HelpEntry[] => COMMANDS.map((c) => ({ cmd: c.id, usage: usage(c), help: c.help })),
    text: () => helpText(),
  }),
  def({ name: 'quit', help: 'close the connection', kind: 'quit', run: () => null, text: () => '' }),
];

interface HelpEntry {
  cmd: string;
  usage: string;
  help: string;
}

function usage(c: Command): string {
  const a = usageOf(c.args);
  return a ? `${c.name} ${a}` : c.name;
}

/** The command list, for `help`, `netmon ctl` without a command and the docs. */
export function helpText(indent = ''): string {
  const w = Math.max(...COMMANDS.map((c) => usage(c).length));
  return COMMANDS.map((c) => `${indent}${usage(c).padEnd(w)}  ${c.help}`).join('\n');
}

const BY_ID = new Map(COMMANDS.map((c) => [c.id, c]));
const MAX_NAME_WORDS = Math.max(...COMMANDS.map((c) => c.name.split(' ').length));

/** HAProxy runtime API spellings for the same commands. */
function haproxyAlias(words: readonly string[]): readonly string[] {
  // set server web/b1 state drain | set server web/b1 weight 5
  if (words[0] === 'set' && words[1] === 'server' && (words[3] === 'state' || words[3] === 'weight')) {
    return ['set', words[3], ...words.slice(2, 3), ...words.slice(4)];
  }
  // enable server web/b1 | disable server web/b1
  if ((words[0] === 'enable' || words[0] === 'disable') && words[1] === 'server') {
    return [words[0], 'backend', ...words.slice(2)];
  }
  return words;
}

export interface Resolved {
  command: Command;
  args: Args;
}

/** The longest command name that prefixes the words; the rest are its arguments. */
function lookup(words: readonly string[]): { command: Command; rest: readonly string[] } {
  const w = haproxyAlias(words);
  for (let n = Math.min(MAX_NAME_WORDS, w.length); n >= 1; n--) {
    const c = BY_ID.get(w.slice(0, n).join('-').toLowerCase());
    if (c) return { command: c, rest: w.slice(n) };
  }
  const shown = JSON.stringify(words.slice(0, MAX_NAME_WORDS).join(' ').slice(0, 64));
  throw new NetmonError('E_UNKNOWN_COMMAND', `unknown command ${shown}; \`help\` lists the commands`);
}

/** A text line's words: `set state web/b1 drain`. */
export function resolveWords(words: readonly string[]): Resolved {
  const { command, rest } = lookup(words);
  return { command, args: parseWords(command.args, rest) };
}

/** A JSON request: `cmd` ("set-state" or "set state") plus named `args`. */
export function resolveJson(cmd: string, args: Readonly<Record<string, unknown>>): Resolved {
  const words = cmd.trim().split(/\s+/);
  const { command, rest } = lookup(words);
  if (rest.length > 0) {
    // positional words inside `cmd` ("show backends web") are allowed when `args` is empty
    if (Object.keys(args).length > 0) {
      throw new NetmonError('E_BAD_ARGUMENT', 'give arguments either in `cmd` or in `args`, not both');
    }
    return { command, args: parseWords(command.args, rest) };
  }
  return { command, args: parseObject(command.args, args) };
}
