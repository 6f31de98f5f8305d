import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeFileLayer, type FileHandleLike, type FileLayer } from '../../src/log/file-layer.js';
import type { CorruptionInfo } from '../../src/log/file/index.js';

export const quiet = { warn: (): void => undefined, error: (): void => undefined };

/** A temporary directory removed by `cleanup`. */
export async function tempDir(prefix: string): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `weir-${prefix}-`));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export function collectCorruption(): { infos: CorruptionInfo[]; onCorrupt(info: CorruptionInfo): void } {
  const infos: CorruptionInfo[] = [];
  return { infos, onCorrupt: (info) => infos.push(info) };
}

function errno(code: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`${code}: injected fault`);
  err.code = code;
  return err;
}

/** One armed fault: the next `times` matching calls fail with `code`. */
interface Fault {
  code: string;
  times: number;
  match: (path: string) => boolean;
}

const isSegment = (path: string): boolean => path.endsWith('.seg');

/**
 * Wraps a FileLayer to inject faults and observe calls: ENOSPC on writev (after writing part of
 * the data, like a real short write), EIO on datasync, and a gate that holds datasync calls.
 */
export class FaultyFileLayer implements FileLayer {
  writevFault: Fault | undefined;
  datasyncFault: Fault | undefined;
  /** While set, segment datasyncs wait for it. */
  datasyncGate: Promise<void> | undefined;
  /** `datasync <path>`, `syncDir <path>`, `open <path>`, `writev <path>` in call order. */
  readonly calls: string[] = [];

  constructor(private readonly inner: FileLayer = nodeFileLayer) {}

  failWritev(code = 'ENOSPC', times = 1, match = isSegment): void {
    this.writevFault = { code, times, match };
  }

  failDatasync(code = 'EIO', times = 1, match = isSegment): void {
    this.datasyncFault = { code, times, match };
  }

  count(prefix: string): number {
    return this.calls.filter((c) => c.startsWith(prefix)).length;
  }

  async open(path: string, flags: 'r' | 'r+' | 'w+' | 'wx+'): Promise<FileHandleLike> {
    this.calls.push(`open ${path}`);
    return new FaultyHandle(this, path, await this.inner.open(path, flags));
  }
  readdir(path: string): Promise<string[]> {
    return this.inner.readdir(path);
  }
  mkdir(path: string): Promise<void> {
    return this.inner.mkdir(path);
  }
  unlink(path: string): Promise<void> {
    return this.inner.unlink(path);
  }
  rename(from: string, to: string): Promise<void> {
    return this.inner.rename(from, to);
  }
  stat(path: string): Promise<{ size: number; mtimeMs: number } | undefined> {
    return this.inner.stat(path);
  }
  syncDir(path: string): Promise<void> {
    this.calls.push(`syncDir ${path}`);
    return this.inner.syncDir(path);
  }

  /** Consumes one use of `fault` when it applies to `path`. */
  take(fault: Fault | undefined, path: string): string | undefined {
    if (!fault || fault.times <= 0 || !fault.match(path)) return undefined;
    fault.times--;
    return fault.code;
  }
}

class FaultyHandle implements FileHandleLike {
  constructor(
    private readonly layer: FaultyFileLayer,
    private readonly path: string,
    private readonly inner: FileHandleLike,
  ) {}

  read(buffer: Buffer, offset: number, length: number, position: number): Promise<number> {
    return this.inner.read(buffer, offset, length, position);
  }

  async writev(buffers: Buffer[], position: number): Promise<number> {
    this.layer.calls.push(`writev ${this.path}`);
    const code = this.layer.take(this.layer.writevFault, this.path);
    if (code) {
      // A short write first: the garbage the writer must clean up.
      const first = buffers[0];
      if (first && first.length > 1) await this.inner.writev([first.subarray(0, Math.ceil(first.length / 2))], position);
      throw errno(code);
    }
    return this.inner.writev(buffers, position);
  }

  async datasync(): Promise<void> {
    this.layer.calls.push(`datasync ${this.path}`);
    if (isSegment(this.path) && this.layer.datasyncGate) await this.layer.datasyncGate;
    const code = this.layer.take(this.layer.datasyncFault, this.path);
    if (code) throw errno(code);
    return this.inner.datasync();
  }

  truncate(length: number): Promise<void> {
    return this.inner.truncate(length);
  }
  size(): Promise<number> {
    return this.inner.size();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
