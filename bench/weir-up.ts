/**
 * `weir up` for benchmarks: started from the built CLI on a random port with a fresh data
 * directory, stopped with SIGTERM.
 *
 * @example
 * ```ts
 * const w = await startWeir(dataDir, { WEIR_WAREHOUSE_ENGINE: 'none' });
 * await fetch(`${w.url}/healthz`);
 * await stopWeir(w.child);
 * ```
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = resolve(fileURLToPath(new URL('.', import.meta.url)), '../src/cli/main.js');

export interface RunningWeir {
  child: ChildProcess;
  url: string;
  /** The default source's write key (empty when the data directory was not new). */
  writeKey: string;
  /** The CLI's admin token. */
  token: string;
}

export async function startWeir(dataDir: string, env: Record<string, string> = {}): Promise<RunningWeir> {
  const port = 18200 + Math.floor(Math.random() * 1000);
  const child = spawn(process.execPath, [CLI, 'up'], {
    env: { ...process.env, WEIR_DATA_DIR: dataDir, WEIR_SERVER_PORT: String(port), WEIR_SERVER_HOST: '127.0.0.1', WEIR_LOGGING_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout!.setEncoding('utf8');
  await new Promise<void>((res, rej) => {
    child.stdout!.on('data', (d: string) => {
      out += d;
      if (/running on/.test(out) && (/admin token/.test(out) || /sources list/.test(out))) res();
    });
    child.once('exit', (c) => rej(new Error(`weir up exited ${c}: ${out}`)));
  });
  const writeKey = /write key:\s+(\S+)/.exec(out)?.[1] ?? '';
  const token = readFileSync(join(dataDir, 'cli-token'), 'utf8').trim();
  return { child, url: `http://127.0.0.1:${port}`, writeKey, token };
}

export function stopWeir(child: ChildProcess): Promise<void> {
  return new Promise((r) => {
    if (child.exitCode !== null) return r();
    child.once('exit', () => r());
    child.kill('SIGTERM');
  });
}
