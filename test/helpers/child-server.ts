import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A test server in a child process with a temporary data directory of its own. */
export interface ChildServer {
  /** What the readiness pattern captured (a port, an address). */
  ready: string;
  /** Kills the child and removes its directory. */
  stop(): Promise<void>;
}

/**
 * Starts `node <args(dir)>` with a fresh temporary directory and resolves once its output
 * matches `ready` (whose first group is returned); rejects with the output when the child exits
 * first. Output after that is drained, so the child never blocks on a full pipe.
 *
 * @example
 * ```ts
 * const srv = await startChildServer('weir-azurite-', (dir) => [main, '--location', dir, '--blobPort', '0'], /listens on (http:\S+)/);
 * await srv.stop();
 * ```
 */
export async function startChildServer(tempPrefix: string, args: (dir: string) => string[], ready: RegExp): Promise<ChildServer> {
  const dir = await mkdtemp(join(tmpdir(), tempPrefix));
  const child = spawn(process.execPath, args(dir), { stdio: ['ignore', 'pipe', 'pipe'] });
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  let output = '';
  try {
    const captured = await new Promise<string>((resolve, reject) => {
      const onData = (chunk: Buffer): void => {
        output += chunk.toString();
        const m = ready.exec(output);
        if (m) resolve(m[1]!);
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`${args(dir)[0]} exited with ${code} before it was ready: ${output}`)));
    });
    return { ready: captured, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
