import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The compiled CLI, run as a user would run it. */
export const CLI = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../src/cli/main.js');

export function tempDir(prefix = 'weir-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a `weir` command to completion. */
export function weir(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number; input?: string } = {}): RunResult {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    input: opts.input,
    env: { ...process.env, ...opts.env },
    cwd: opts.cwd,
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 30_000,
    maxBuffer: 512 * 1024 * 1024,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A running `weir up`, in its own process group so a crash test can kill every process of it. */
export class WeirServer {
  readonly url: string;
  readonly port: number;
  writeKey: string;
  adminToken: string | undefined;

  private constructor(
    readonly child: ChildProcess,
    readonly dataDir: string,
    banner: { port: number; writeKey?: string; adminToken?: string },
    readonly output: { stdout: string; stderr: string },
  ) {
    this.port = banner.port;
    this.url = `http://127.0.0.1:${banner.port}`;
    this.writeKey = banner.writeKey ?? '';
    this.adminToken = banner.adminToken;
  }

  /**
   * Starts `weir up` on a free port and waits for its banner.
   *
   * @example
   * ```ts
   * const server = await WeirServer.start({ dataDir: tempDir() });
   * await fetch(`${server.url}/healthz`);
   * await server.stop();
   * ```
   */
  static async start(opts: {
    dataDir: string;
    env?: NodeJS.ProcessEnv;
    workers?: number;
    port?: number;
    startTimeoutMs?: number;
    /** The command: `up` (default) or `collector`, whose banners are alike. */
    command?: 'up' | 'collector';
  }): Promise<WeirServer> {
    const child = spawn(process.execPath, [CLI, opts.command ?? 'up'], {
      env: {
        ...process.env,
        WEIR_DATA_DIR: opts.dataDir,
        WEIR_SERVER_HOST: '127.0.0.1',
        WEIR_SERVER_PORT: String(opts.port ?? 0),
        WEIR_SERVER_WORKERS: String(opts.workers ?? 2),
        WEIR_LOGGING_LEVEL: 'warn',
        ...opts.env,
      },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output = { stdout: '', stderr: '' };
    child.stdout!.setEncoding('utf8');
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => {
      output.stderr += d;
    });
    const banner = await new Promise<{ port: number; writeKey?: string; adminToken?: string }>((resolvePromise, reject) => {
      const timer = setTimeout(() => {
        // A server that started too slowly must not outlive the test (it would hold a port and CPU).
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          // already gone
        }
        reject(new Error(`weir up did not start:\n${output.stdout}\n${output.stderr}`));
      }, opts.startTimeoutMs ?? 30_000);
      child.stdout!.on('data', (d: string) => {
        output.stdout += d;
        const port = /running on http:\/\/[^:]+:(\d+)/.exec(output.stdout)?.[1];
        const firstStart = output.stdout.includes('First start');
        const done = firstStart ? /admin token: (\S+)/.test(output.stdout) : /weir sources list/.test(output.stdout);
        if (port && done) {
          clearTimeout(timer);
          resolvePromise({
            port: Number(port),
            writeKey: /write key:\s+(\S+)/.exec(output.stdout)?.[1],
            adminToken: /admin token: (\S+)/.exec(output.stdout)?.[1],
          });
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`weir up exited with ${code}:\n${output.stdout}\n${output.stderr}`));
      });
    });
    return new WeirServer(child, opts.dataDir, banner, output);
  }

  /** SIGTERM and wait: resolves with the exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode !== null) return this.child.exitCode;
    const exited = new Promise<number | null>((r) => this.child.once('exit', (code) => r(code)));
    this.child.kill(signal);
    return exited;
  }

  /** kill -9 of the whole process group: the supervisor and every worker, at once. */
  async crash(): Promise<void> {
    const exited = new Promise<void>((r) => (this.child.exitCode !== null || this.child.signalCode !== null ? r() : this.child.once('exit', () => r())));
    try {
      process.kill(-this.child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
    await exited;
    // Workers are in the same group; wait until none holds the port or a partition lock.
    for (let i = 0; i < 100; i++) {
      try {
        process.kill(-this.child.pid!, 0);
      } catch {
        return;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** Basic auth header for a write key, as Segment SDKs send it. */
export function basic(writeKey: string): string {
  return `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`;
}

/** POSTs JSON to an ingest endpoint. */
export async function post(
  server: { url: string },
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' || body instanceof Uint8Array ? (body as string) : JSON.stringify(body),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json, headers: res.headers };
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Polls until `fn` returns a truthy value or the time runs out. */
type Falsy = undefined | null | false | 0 | '';
export async function eventually<T>(fn: () => Promise<T | Falsy> | T | Falsy, timeoutMs = 10_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as T;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`condition not met in ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Every record in the log, read with `weir tail --from-start` as a user would. */
export function tailAll(dataDir: string, opts: { failed?: boolean } = {}): Array<Record<string, any>> {
  const r = weir(['tail', '--from-start', '--idle-exit', '300', ...(opts.failed ? ['--failed'] : [])], {
    env: { WEIR_DATA_DIR: dataDir },
    timeoutMs: 120_000,
  });
  if (r.status !== 0) throw new Error(`weir tail failed (${r.status}, ${r.stdout.split('\n').length} lines): ${r.stderr}`);
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, any>);
}

/**
 * A TCP port that was free a moment ago. For servers that must keep their port across restarts
 * of all their workers (with port 0, node:cluster picks a new one when the last worker dies).
 */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}
