// The reference proxies and load tools come from Debian. The bench installs the
// missing ones when it can (root, apt-get present, not told otherwise); anything
// still missing is skipped with a message by the workload or proxy that needs it.
import { spawnSync } from 'node:child_process';
import { which } from './workloads/tools.js';

const DEBIAN_PACKAGES = [
  'haproxy',
  'nginx',
  'libnginx-mod-stream',
  'wrk',
  'iperf3',
  'dnsmasq-base',
  'linux-perf',
] as const;
const COMMANDS = ['haproxy', 'nginx', 'wrk', 'iperf3', 'dnsmasq', 'perf'] as const;

export async function ensureTools(log: (line: string) => void, allowInstall: boolean): Promise<void> {
  const missing: string[] = [];
  for (const c of COMMANDS) if (!(await which(c))) missing.push(c);
  if (missing.length === 0) return;
  const apt = await which('apt-get');
  if (!allowInstall || !apt || process.getuid?.() !== 0) {
    log(
      `missing ${missing.join(', ')}; not installing (${!allowInstall ? '--no-install' : !apt ? 'no apt-get' : 'not root'}): those parts are skipped`,
    );
    return;
  }
  log(`installing ${DEBIAN_PACKAGES.join(' ')} from Debian (missing: ${missing.join(', ')})`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const update = spawnSync('apt-get', ['update'], { stdio: 'ignore', env, timeout: 300_000 });
  const install =
    update.status === 0
      ? spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...DEBIAN_PACKAGES], {
          stdio: 'ignore',
          env,
          timeout: 600_000,
        })
      : update;
  if (install.status !== 0) log('apt-get failed: the missing tools are skipped');
}
