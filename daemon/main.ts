// Process entry of `netmon daemon`: load the config, start the control plane and
// its side services, and handle signals (SIGHUP reload, SIGTERM/SIGINT graceful
// stop, a second stop signal = immediate), telling systemd at each step. A
// graceful stop (a signal or `netmon ctl stop`) first reports unhealthy for
// announce_drain while still accepting (the lame-duck period), then drains.
import { Daemon } from './control/daemon.js';
import { log } from './log.js';
import { ConfigErrors, NetmonError } from './errors.js';
import type { Config } from './config/schema.js';
import { startSideServices, type SideServices } from './control/side-services.js';
import { notify as defaultNotifier, type Notifier } from './control/systemd/notify.js';
import { takeActivatedSockets, type ActivatedSockets } from './control/systemd/socket-activation.js';

export interface RunOptions {
  configPath: string | null;
  load: () => Config;
  notify?: Notifier;
  /** Told once the daemon serves: `make soak`'s host reaches the daemon's test hooks through it. */
  started?: (daemon: Daemon) => void;
}

/** Resolves with the exit code once the daemon has stopped. */
export async function runDaemon(opts: RunOptions): Promise<number> {
  const notify = opts.notify ?? defaultNotifier;
  let config: Config;
  try {
    config = opts.load();
  } catch (err) {
    if (err instanceof ConfigErrors) {
      for (const line of err.lines()) process.stderr.write(line + '\n');
      process.stderr.write(`netmon: refusing to start: ${err.total} config error(s)\n`);
      return 1;
    }
    process.stderr.write(`netmon: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }

  // Signals are ours from here on: a SIGHUP or SIGTERM while starting must not
  // kill the process with the default action.
  let stopRequested: string | null = null;
  let onStop: (signal: string) => void = (signal) => {
    stopRequested ??= signal;
  };
  let onHup: () => void = () => log.warn('SIGHUP while starting: ignored, the config is being loaded now');
  const stopHandler = (signal: NodeJS.Signals): void => onStop(signal);
  const hupHandler = (): void => onHup();
  process.on('SIGTERM', stopHandler);
  process.on('SIGINT', stopHandler);
  process.on('SIGHUP', hupHandler);
  const detach = (): void => {
    process.off('SIGTERM', stopHandler);
    process.off('SIGINT', stopHandler);
    process.off('SIGHUP', hupHandler);
    notify.close();
  };

  let activated: ActivatedSockets;
  try {
    activated = takeActivatedSockets(config.listeners.map((l) => l.name));
  } catch (err) {
    const e = err as NetmonError;
    process.stderr.write(`netmon: error ${e.code}: ${e.message}\n`);
    detach();
    return 1;
  }
  if (activated.size > 0) log.info('serving sockets passed by systemd', { listeners: [...activated.keys()] });
  const daemon = new Daemon(config, { configPath: opts.configPath, load: opts.load, activated });
  let side: SideServices;
  try {
    // the control socket first: a second daemon on the same socket is refused
    // before it binds any listener
    side = await startSideServices(daemon);
  } catch (err) {
    const code = err instanceof NetmonError ? `error ${err.code}: ` : '';
    process.stderr.write(`netmon: ${code}${err instanceof Error ? err.message : String(err)}\n`);
    detach();
    return 1;
  }
  try {
    await daemon.start();
  } catch (err) {
    const msg = err instanceof NetmonError ? `error ${err.code}: ${err.message}` : String(err);
    log.error('netmon failed to start', { err: msg, code: err instanceof NetmonError ? err.code : 'E_INTERNAL' });
    process.stderr.write(`netmon: failed to start: ${msg}\n`);
    await daemon.stop(false).catch(() => undefined);
    await side.close();
    detach();
    return 1;
  }
  daemon.onReload({
    start: () => notify.reloading(),
    end: (r) =>
      notify.ready(
        r.outcome === 'applied'
          ? `serving; reloaded, generation ${r.generation}`
          : r.outcome === 'partial'
            ? `serving generation ${r.generation} in part: ${r.errors[0] ?? ''}`
            : `serving the previous config; reload failed: ${r.errors[0] ?? ''}`,
      ),
  });
  notify.ready(`serving ${config.listeners.length} listener(s), generation ${daemon.topology.generation}`);
  opts.started?.(daemon);

  return new Promise<number>((resolve) => {
    let stopping = false;
    let exitCode = 0;
    let lameDuck: NodeJS.Timeout | null = null;
    daemon.onFatal((reason) => {
      log.error('stopping: cannot go on serving as configured; exit 1 lets the service manager restart netmon', {
        reason,
      });
      exitCode = 1;
      onStop('fatal');
    });
    const finish = (graceful: boolean, signal: string): void => {
      lameDuck = null;
      if (graceful) {
        const drainMs = daemon.currentConfig.drainTimeout;
        notify.stopping(`stopping: draining connections (up to ${drainMs} ms)`);
        log.info('stopping: listeners closed, waiting for connections to finish', {
          signal,
          drain_timeout_ms: drainMs,
        });
      }
      void daemon
        .stop(graceful, 'second_signal')
        .then(() => side.close())
        .catch((err: unknown) => log.error('error while stopping', { err }))
        .then(() => {
          log.info('netmon stopped');
          detach();
          resolve(exitCode);
        });
    };
    onStop = (signal) => {
      if (stopping) {
        log.warn('second stop signal: closing every connection now', { signal });
        if (lameDuck) {
          clearTimeout(lameDuck);
          finish(false, signal);
        } else void daemon.terminate();
        return;
      }
      stopping = true;
      const announceMs = signal === 'fatal' ? 0 : daemon.currentConfig.announceDrain;
      if (announceMs === 0) {
        finish(true, signal);
        return;
      }
      // lame duck: keep accepting while /healthz says 503, so keepalived or the
      // BGP speaker moves the traffic away before the listeners close
      notify.stopping(`stopping: reporting unhealthy for ${announceMs} ms while still accepting, then draining`);
      log.info('stopping: reporting unhealthy while still accepting (announce_drain)', {
        signal,
        announce_drain_ms: announceMs,
      });
      daemon.enterLameDuck(announceMs);
      lameDuck = setTimeout(() => finish(true, signal), announceMs);
    };
    daemon.onStopRequest((cause) => {
      const started = !stopping;
      // a stop already under way is not a second signal: it is left as it is
      if (started) onStop(cause);
      const c = daemon.currentConfig;
      return { started, lameDuckMs: c.announceDrain, drainTimeoutMs: c.drainTimeout };
    });
    onHup = () => {
      if (stopping) return;
      log.info('SIGHUP: reloading the config', { config: opts.configPath ?? '<embedded default>' });
      // the outcome is logged by the daemon and shown by `netmon ctl show info`
      void daemon.reload();
    };
    // a stop signal that came while starting
    if (stopRequested) onStop(stopRequested);
  });
}
