import { readFileSync, readdirSync } from 'node:fs';

/** A process `weir up` forked: a collector worker (with its log partition) or the sinks process. */
export interface WeirChild {
  pid: number;
  role: 'collector' | 'sinks';
  /** The collector's log partition. */
  partition?: number;
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    // The process exited between listing and reading.
    return undefined;
  }
}

/**
 * The live children of a `weir up` supervisor, from /proc (Linux): which are collectors and which
 * is the sinks process is told by the entry script each was started with.
 *
 * @example
 * ```ts
 * const sinks = weirChildren(server.child.pid!).find((c) => c.role === 'sinks');
 * ```
 */
export function weirChildren(supervisorPid: number): WeirChild[] {
  const out: WeirChild[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = read(`/proc/${name}/stat`);
    // The command name (field 2) may hold spaces and parentheses: the fields after it start at the last ')'.
    const fields = stat?.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is the state (Z: exited, not yet reaped), fields[1] the parent pid.
    if (!fields || fields[0] === 'Z' || Number(fields[1]) !== supervisorPid) continue;
    const cmdline = read(`/proc/${name}/cmdline`) ?? '';
    if (cmdline.includes('sinks-main.js')) out.push({ pid: Number(name), role: 'sinks' });
    else if (cmdline.includes('worker-main.js')) {
      const partition = /(?:^|\0)WEIR_WORKER_PARTITION=(\d+)/.exec(read(`/proc/${name}/environ`) ?? '')?.[1];
      out.push({ pid: Number(name), role: 'collector', partition: partition === undefined ? undefined : Number(partition) });
    }
  }
  return out.sort((a, b) => a.pid - b.pid);
}

/** Resident set size of a process in bytes, or undefined when it is gone. */
export function rssBytes(pid: number): number | undefined {
  const kb = /VmRSS:\s+(\d+) kB/.exec(read(`/proc/${pid}/status`) ?? '')?.[1];
  return kb === undefined ? undefined : Number(kb) * 1024;
}
