/**
 * Starts shell steps from a long-running `/bin/sh` instead of from the worker's own process.
 *
 * Node starts a child with fork(), whose cost grows with the parent's mapped memory and which
 * blocks the parent's event loop meanwhile: ~6 ms per step in a worker beside a DuckDB
 * warehouse in a measurement, and 1–2 ms from even a fresh Node process. A small shell forks in
 * a fraction of that, on its own CPU. The worker writes one command line per step to the
 * shell's stdin; a subshell per step runs it with its output in a file, waits, and reports
 * `done <id> <status>` on stdout.
 *
 * A non-interactive shell has no job control, so a step does not get a process group of its
 * own: at a timeout the launcher stops the step's whole process tree, found through
 * `/proc/<pid>/task/<tid>/children` (Linux). Elsewhere steps start with `spawn` (shell.ts).
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { closeSync, existsSync, fstatSync, mkdtempSync, openSync, readSync, readdirSync, readFileSync, rmSync, unlink } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { ShellResult } from './shell.js';

/** How long a step has to exit after SIGTERM before its tree gets SIGKILL. */
const KILL_GRACE_MS = 2000;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A shell word: single-quoted, so nothing in it is expanded. */
function quote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Every process below `pid` (not `pid` itself), deepest last. */
function descendants(pid: number): number[] {
  const out: number[] = [];
  const todo = [pid];
  while (todo.length > 0) {
    const p = todo.pop()!;
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${p}/task`);
    } catch {
      continue;
    }
    for (const t of tasks) {
      let text = '';
      try {
        text = readFileSync(`/proc/${p}/task/${t}/children`, 'utf8');
      } catch {
        continue;
      }
      for (const c of text.split(' ')) {
        const n = Number(c);
        if (n > 0) {
          out.push(n);
          todo.push(n);
        }
      }
    }
  }
  return out;
}

function signalAll(pids: number[], signal: NodeJS.Signals): void {
  for (const p of pids) {
    try {
      process.kill(p, signal);
    } catch {
      // gone already
    }
  }
}

/** The last `max` characters of a file (the step's output), then the file removed. */
function takeOutput(file: string, max: number): string {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return '';
  }
  try {
    const size = fstatSync(fd).size;
    if (size === 0) return '';
    const length = Math.min(size, max);
    const buf = Buffer.alloc(length);
    readSync(fd, buf, 0, length, size - length);
    return buf.toString('utf8');
  } finally {
    closeSync(fd);
    // Off the event loop: on a journaling file system an unlink costs more than the read.
    unlink(file, () => {});
  }
}

interface Pending {
  pid?: number;
  out: string;
  maxOutput: number;
  timedOut: boolean;
  aborted: boolean;
  killTimer?: NodeJS.Timeout;
  resolve(result: ShellResult): void;
}

/**
 * @example
 * ```ts
 * if (ShellLauncher.available()) {
 *   const launcher = new ShellLauncher();
 *   const r = await launcher.run(['/bin/sh', 'step.sh'], { cwd, env: { START }, timeoutMs: 60_000, signal });
 *   await launcher.close();
 * }
 * ```
 */
export class ShellLauncher {
  private shell: ChildProcessByStdio<Writable, Readable, null> | undefined;
  private dir: string | undefined;
  private buffer = '';
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  /** Linux, with /bin/sh and the /proc files the timeout needs. */
  static available(): boolean {
    return process.platform === 'linux' && existsSync('/bin/sh') && existsSync(`/proc/${process.pid}/task/${process.pid}/children`);
  }

  /** Runs `argv` in `cwd` with `env` added to the environment this process had when the launcher started. */
  run(argv: string[], options: { cwd: string; env: Record<string, string>; timeoutMs: number; signal: AbortSignal; maxOutput?: number }): Promise<ShellResult> {
    const shell = this.start();
    const id = this.nextId++;
    const out = join(this.dir!, `${id}.out`);
    const exports = Object.entries(options.env)
      .filter(([k]) => NAME.test(k))
      .map(([k, v]) => `export ${k}=${quote(v)} && `)
      .join('');
    return new Promise<ShellResult>((resolve) => {
      const entry: Pending = {
        out,
        maxOutput: options.maxOutput ?? 256 * 1024,
        timedOut: false,
        aborted: false,
        resolve: (r) => {
          clearTimeout(timer);
          clearTimeout(entry.killTimer);
          options.signal.removeEventListener('abort', onAbort);
          resolve(r);
        },
      };
      const timer = setTimeout(() => {
        entry.timedOut = true;
        this.stop(entry);
      }, options.timeoutMs);
      const onAbort = () => {
        entry.aborted = true;
        this.stop(entry);
      };
      this.pending.set(id, entry);
      if (this.pending.size === 1) this.hold(true);
      shell.stdin.write(
        `( cd ${quote(options.cwd)} 2>${quote(out)} && ${exports}${argv.map(quote).join(' ')} >${quote(out)} 2>&1 </dev/null; echo "done ${id} $?" ) & echo "pid ${id} $!"\n`,
      );
      if (options.signal.aborted) onAbort();
      else options.signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Stops the steps still running and the shell. */
  async close(): Promise<void> {
    const shell = this.shell;
    if (!shell) return;
    for (const entry of this.pending.values()) {
      entry.aborted = true;
      this.stop(entry);
    }
    while (this.pending.size > 0) await new Promise((r) => setTimeout(r, 10));
    const exited = new Promise((r) => shell.once('exit', r));
    // Unreferenced, its exit would not keep this process waiting for it.
    this.hold(true);
    this.shell = undefined;
    shell.stdin.end();
    await exited;
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }

  private stop(entry: Pending): void {
    if (entry.pid === undefined) return;
    // The subshell itself stays, to report the status its step ended with.
    signalAll(descendants(entry.pid), 'SIGTERM');
    const pid = entry.pid;
    entry.killTimer ??= setTimeout(() => signalAll(descendants(pid), 'SIGKILL'), KILL_GRACE_MS);
  }

  private start(): ChildProcessByStdio<Writable, Readable, null> {
    if (this.shell) return this.shell;
    this.dir = mkdtempSync(join(tmpdir(), 'weir-steps-'));
    const shell = spawn('/bin/sh', ['-s'], { stdio: ['pipe', 'pipe', 'inherit'] });
    shell.stdout.setEncoding('utf8');
    shell.stdout.on('data', (chunk: string) => this.receive(chunk));
    shell.on('exit', () => {
      if (this.shell === shell) this.shell = undefined;
      // Steps the shell was running when it went away: reported failed, so they are retried.
      for (const [id, entry] of this.pending) {
        this.pending.delete(id);
        entry.resolve({ code: null, signal: null, output: 'the step launcher exited\n', timedOut: entry.timedOut, aborted: entry.aborted });
      }
    });
    this.shell = shell;
    this.hold(false);
    return shell;
  }

  private receive(chunk: string): void {
    this.buffer += chunk;
    for (let nl = this.buffer.indexOf('\n'); nl !== -1; nl = this.buffer.indexOf('\n')) {
      const [kind, idText, value] = this.buffer.slice(0, nl).split(' ');
      this.buffer = this.buffer.slice(nl + 1);
      const id = Number(idText);
      const entry = this.pending.get(id);
      if (!entry) continue;
      if (kind === 'pid') {
        entry.pid = Number(value);
        if (entry.timedOut || entry.aborted) this.stop(entry);
      } else if (kind === 'done') {
        this.pending.delete(id);
        if (this.pending.size === 0) this.hold(false);
        const status = Number(value);
        entry.resolve({ code: status, signal: null, output: takeOutput(entry.out, entry.maxOutput), timedOut: entry.timedOut, aborted: entry.aborted });
      }
    }
  }

  /** While steps run the shell keeps this process alive; idle, it does not. */
  private hold(on: boolean): void {
    const shell = this.shell;
    if (!shell) return;
    const stdout = shell.stdout as Readable & { ref?: () => void; unref?: () => void };
    if (on) {
      shell.ref();
      stdout.ref?.();
    } else {
      shell.unref();
      stdout.unref?.();
    }
  }
}
