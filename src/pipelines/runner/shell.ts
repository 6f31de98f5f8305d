import { spawn } from 'node:child_process';

export interface ShellResult {
  /** Exit code, or null when ended by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** stdout and stderr interleaved, the newest `maxOutput` characters. */
  output: string;
  timedOut: boolean;
  aborted: boolean;
}

/** How long a step has to exit after SIGTERM before it gets SIGKILL. */
const KILL_GRACE_MS = 2000;

/**
 * Runs a program in its own process group and collects its output. At the timeout, or when
 * `signal` aborts, the whole group (the script and whatever it started) gets SIGTERM, then
 * SIGKILL after a grace period. Never rejects: a program that cannot start reports code 127.
 *
 * @example
 * ```ts
 * const r = await runProgram(['/bin/sh', 'export.sh'], { cwd: 'pipelines', env: { START: '…' }, timeoutMs: 60_000, signal });
 * if (r.code !== 0) console.error(r.output);
 * ```
 */
export function runProgram(
  argv: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number; signal: AbortSignal; maxOutput?: number },
): Promise<ShellResult> {
  const max = options.maxOutput ?? 256 * 1024;
  return new Promise((resolve) => {
    let output = '';
    let timedOut = false;
    let aborted = false;
    const append = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (output.length > 2 * max) output = output.slice(-max);
    };
    const child = spawn(argv[0]!, argv.slice(1), { cwd: options.cwd, env: options.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', append);
    child.stderr.on('data', append);
    let killTimer: NodeJS.Timeout | undefined;
    const stop = () => {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
      const group = -child.pid;
      try {
        process.kill(group, 'SIGTERM');
      } catch {
        // already gone
      }
      killTimer = setTimeout(() => {
        try {
          process.kill(group, 'SIGKILL');
        } catch {
          // already gone
        }
      }, KILL_GRACE_MS);
    };
    const timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, options.timeoutMs);
    const onAbort = () => {
      aborted = true;
      stop();
    };
    if (options.signal.aborted) onAbort();
    else options.signal.addEventListener('abort', onAbort, { once: true });
    let settled = false;
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(killTimer);
      options.signal.removeEventListener('abort', onAbort);
      resolve({ code, signal, output: output.length > max ? output.slice(-max) : output, timedOut, aborted });
    };
    child.on('error', (err) => {
      output += `${err.message}\n`;
      finish(127, null);
    });
    // 'close' waits for the output pipes as well as the exit.
    child.on('close', (code, signal) => finish(code, signal));
  });
}
