// Another program on a port: a listener in a child process, with SO_REUSEPORT
// (as a second netmon, or any server that sets it, would listen), answering
// "foreign\n" to each connection. Only the process started here is signalled,
// by its handle.
import { spawn } from 'node:child_process';
import { once } from 'node:events';

export interface ForeignHolder {
  port: number;
  close(): Promise<void>;
}

/** A listener in a child process on `host`:`port` (0: any port) with SO_REUSEPORT. */
export async function foreignHolder(host = '127.0.0.1', port = 0): Promise<ForeignHolder> {
  const child = spawn(
    process.execPath,
    [
      '-e',
      "const s=require('net').createServer((c)=>c.end('foreign\\n'))" +
        `.listen({host:${JSON.stringify(host)},port:${port},reusePort:true},` +
        "()=>process.stdout.write(s.address().port+'\\n'));",
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const [line] = (await once(child.stdout!, 'data')) as [Buffer];
  const exited = once(child, 'exit');
  return {
    port: Number(line.toString().trim()),
    close: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}
