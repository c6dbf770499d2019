import { loadConfigFile } from '../daemon/config/load.js';
import { ConfigErrors } from '../daemon/errors.js';
import type { Config } from '../daemon/config/schema.js';

/** Prints the verdict; returns the exit code. */
export function checkConfig(file: string, json: boolean): number {
  let config: Config;
  try {
    config = loadConfigFile(file);
  } catch (err) {
    if (!(err instanceof ConfigErrors)) throw err;
    if (json) {
      const errors = err.errors.map((e) => ({ code: e.code, path: e.path, line: e.line ?? null, message: e.message }));
      const out = err.omitted > 0 ? { ok: false, file, errors, omitted: err.omitted } : { ok: false, file, errors };
      process.stdout.write(JSON.stringify(out, null, 2) + '\n');
    } else {
      for (const line of err.lines()) process.stderr.write(line + '\n');
      process.stderr.write(`${file}: ${err.total} error(s)\n`);
    }
    return 1;
  }
  const backends = config.pools.reduce((n, p) => n + p.backends.length, 0);
  const summary = `${config.listeners.length} listener(s), ${config.pools.length} pool(s), ${backends} backend(s), ${config.workers} worker(s)`;
  if (json) process.stdout.write(JSON.stringify({ ok: true, file, summary }) + '\n');
  else process.stdout.write(`${file}: ok: ${summary}\n`);
  return 0;
}
