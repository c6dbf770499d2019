// Process entry of `netmon daemon`: load the config, start the control plane and
// its side services, and handle signals (SIGHUP reload, SIGTERM/SIGINT graceful
// stop, a second stop signal = immediate).
import { Daemon } from './daemon.js';
import { log } from './log.js';
import { ConfigErrors, NetmonError } from './errors.js';
import type { Config } from './config/schema.js';
import { startSideServices, type SideServices } from './side-services.js';
import { notify } from './systemd-notify.js';

export interface RunOptions {
  configPath: string | null;
  load: () => Config;
}

/** Resolves with the exit code once the daemon has stopped. */
export async function runDaemon(opts: RunOptions): Promise<number> {
  let config: Config;
  try {
    config = opts.load();
  } catch (err) {
    if (err instanceof ConfigErrors) {
      for (const e of err.errors) process.stderr.write(e.format() + '\n');
      process.stderr.write(`netmon: refusing to start: ${err.errors.length} config error(s)\n`);
      return 1;
    }
    process.stderr.write(`netmon: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }

  const daemon = new Daemon(config, { configPath: opts.configPath, load: opts.load });
  let side: SideServices;
  try {
    // the control socket first: a second daemon on the same socket is refused
    // before it binds any listener
    side = await startSideServices(daemon);
  } catch (err) {
    process.stderr.write(`netmon: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  try {
    await daemon.start();
  } catch (err) {
    const msg = err instanceof NetmonError ? err.message : String(err);
    log.error('netmon failed to start', { err: msg });
    process.stderr.write(`netmon: failed to start: ${msg}\n`);
    await side.close();
    return 1;
  }
  notify.ready(`serving ${config.listeners.length} listener(s)`);

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) {
        log.warn('second stop signal: closing every connection now', { signal });
        void daemon.terminate();
        return;
      }
      stopping = true;
      notify.stopping();
      log.info('stopping: listeners closed, waiting for connections to finish', {
        signal,
        drain_timeout_ms: daemon.currentConfig.drainTimeout,
      });
      void daemon
        .stop(true)
        .then(() => side.close())
        .then(() => {
          log.info('netmon stopped');
          resolve(0);
        });
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', () => {
      if (stopping) return;
      notify.reloading();
      void daemon.reload().then((r) => {
        notify.ready(r.ok ? `reloaded, generation ${r.generation}` : `reload failed: ${r.errors[0] ?? ''}`);
      });
    });
  });
}
