import { promises as fsp, constants } from 'node:fs';

/**
 * Every file operation of the file event log goes through this small interface, so tests can
 * swap in a layer that injects faults: power loss (forget writes not covered by a completed
 * fsync), ENOSPC, EIO.
 *
 * @example
 * ```ts
 * const fh = await nodeFileLayer.open('/tmp/x.log', 'w+');
 * await fh.writev([Buffer.from('hi')], 0);
 * await fh.datasync();
 * await nodeFileLayer.syncDir('/tmp');
 * ```
 */
export interface FileLayer {
  /** Flags as in `fs.open`: 'r', 'r+', 'w+', 'wx+'. */
  open(path: string, flags: 'r' | 'r+' | 'w+' | 'wx+'): Promise<FileHandleLike>;
  readdir(path: string): Promise<string[]>;
  mkdir(path: string): Promise<void>;
  unlink(path: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  /** Size in bytes and modification time, or undefined when the path does not exist. */
  stat(path: string): Promise<{ size: number; mtimeMs: number } | undefined>;
  /** fsync of a directory, making created, renamed and deleted entries durable. */
  syncDir(path: string): Promise<void>;
}

export interface FileHandleLike {
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<number>;
  /** Writes all of the buffers at `position`; returns the bytes written. */
  writev(buffers: Buffer[], position: number): Promise<number>;
  datasync(): Promise<void>;
  truncate(length: number): Promise<void>;
  size(): Promise<number>;
  close(): Promise<void>;
}

class NodeFileHandle implements FileHandleLike {
  constructor(private readonly fh: fsp.FileHandle) {}

  async read(buffer: Buffer, offset: number, length: number, position: number): Promise<number> {
    const { bytesRead } = await this.fh.read(buffer, offset, length, position);
    return bytesRead;
  }

  async writev(buffers: Buffer[], position: number): Promise<number> {
    let total = 0;
    for (const b of buffers) total += b.length;
    let written = 0;
    let pending = buffers;
    // writev may write less than asked (signals, large requests); finish the rest.
    while (written < total) {
      const { bytesWritten } = await this.fh.writev(pending, position + written);
      written += bytesWritten;
      if (written < total) pending = sliceFrom(buffers, written);
    }
    return written;
  }

  datasync(): Promise<void> {
    return this.fh.datasync();
  }

  truncate(length: number): Promise<void> {
    return this.fh.truncate(length);
  }

  async size(): Promise<number> {
    return (await this.fh.stat()).size;
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}

function sliceFrom(buffers: Buffer[], skip: number): Buffer[] {
  const out: Buffer[] = [];
  for (const b of buffers) {
    if (skip >= b.length) {
      skip -= b.length;
      continue;
    }
    out.push(skip > 0 ? b.subarray(skip) : b);
    skip = 0;
  }
  return out;
}

/** The real file system. */
export const nodeFileLayer: FileLayer = {
  async open(path, flags) {
    return new NodeFileHandle(await fsp.open(path, flags));
  },
  readdir: (path) => fsp.readdir(path),
  async mkdir(path) {
    await fsp.mkdir(path, { recursive: true });
  },
  unlink: (path) => fsp.unlink(path),
  rename: (from, to) => fsp.rename(from, to),
  async stat(path) {
    try {
      const s = await fsp.stat(path);
      return { size: s.size, mtimeMs: s.mtimeMs };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  },
  async syncDir(path) {
    const fh = await fsp.open(path, constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  },
};
