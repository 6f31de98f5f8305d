import { closeSync, existsSync, openSync, readSync, renameSync, statSync, unlinkSync, writeSync, ftruncateSync } from 'node:fs';
import { dirname } from 'node:path';
import { nodeFileLayer, type FileHandleLike, type FileLayer } from '../../src/log/file-layer.js';

/** What a file looked like at its last completed fsync, for the regions written since. */
interface FileState {
  /** Size at the last completed datasync (undefined: never synced since it was created). */
  durableSize: number | undefined;
  /** Original bytes of regions below durableSize overwritten since, oldest first. */
  undo: Array<{ position: number; bytes: Buffer }>;
}

/**
 * A FileLayer that can simulate a power loss, as SQLite's crash tests do: `crash()` puts every
 * file back to what a completed fsync made durable, and forgets directory entries (new files,
 * renames) that no completed directory fsync covered. Writes really go to disk, so a process
 * can reopen the directory afterwards with the real layer and run recovery.
 *
 * `skipSync` turns datasync into a no-op that reports success, to show the power-loss test can
 * fail: with it, acknowledged records must go missing.
 *
 * Not modelled: unlink (the log's retention), partial writes (a torn write is the torn-tail test's
 * job).
 */
export class PowerLossFileLayer implements FileLayer {
  private readonly files = new Map<string, FileState>();
  /** Files created since their directory's last fsync. */
  private readonly newFiles = new Set<string>();
  /** Renames since the directory's last fsync, newest last: [from, to]. */
  private readonly renames: Array<[string, string]> = [];
  private crashed = false;

  constructor(private readonly options: { skipSync?: boolean } = {}) {}

  private state(path: string): FileState {
    let s = this.files.get(path);
    if (!s) {
      s = { durableSize: existsSync(path) ? statSync(path).size : undefined, undo: [] };
      this.files.set(path, s);
    }
    return s;
  }

  private alive(): void {
    // After the crash the old process is gone: nothing it does reaches the disk any more.
    if (this.crashed) throw Object.assign(new Error('EIO: simulated power loss'), { code: 'EIO' });
  }

  async open(path: string, flags: 'r' | 'r+' | 'w+' | 'wx+'): Promise<FileHandleLike> {
    this.alive();
    const existed = existsSync(path);
    const inner = await nodeFileLayer.open(path, flags);
    if (!existed && flags !== 'r') {
      this.newFiles.add(path);
      this.files.set(path, { durableSize: undefined, undo: [] });
    }
    const state = this.state(path);
    const layer = this;
    return {
      read: (b, o, l, p) => inner.read(b, o, l, p),
      size: () => inner.size(),
      close: () => inner.close(),
      async writev(buffers, position) {
        layer.alive();
        let total = 0;
        for (const b of buffers) total += b.length;
        const durable = state.durableSize ?? 0;
        if (position < durable) {
          // Keep what the disk held, so a crash can put it back.
          const len = Math.min(total, durable - position);
          const old = Buffer.alloc(len);
          const fd = openSync(path, 'r');
          try {
            readSync(fd, old, 0, len, position);
          } finally {
            closeSync(fd);
          }
          state.undo.push({ position, bytes: old });
        }
        return inner.writev(buffers, position);
      },
      async truncate(length) {
        layer.alive();
        const durable = state.durableSize ?? 0;
        if (length < durable) {
          const old = Buffer.alloc(durable - length);
          const fd = openSync(path, 'r');
          try {
            readSync(fd, old, 0, old.length, length);
          } finally {
            closeSync(fd);
          }
          state.undo.push({ position: length, bytes: old });
        }
        return inner.truncate(length);
      },
      async datasync() {
        layer.alive();
        if (layer.options.skipSync) return;
        await inner.datasync();
        state.durableSize = await inner.size();
        state.undo = [];
      },
    };
  }

  readdir(path: string): Promise<string[]> {
    return nodeFileLayer.readdir(path);
  }

  async mkdir(path: string): Promise<void> {
    this.alive();
    return nodeFileLayer.mkdir(path);
  }

  async unlink(path: string): Promise<void> {
    this.alive();
    return nodeFileLayer.unlink(path);
  }

  async rename(from: string, to: string): Promise<void> {
    this.alive();
    await nodeFileLayer.rename(from, to);
    this.renames.push([from, to]);
    const s = this.files.get(from);
    if (s) {
      this.files.set(to, s);
      this.files.delete(from);
    }
    if (this.newFiles.delete(from)) this.newFiles.add(to);
  }

  stat(path: string): Promise<{ size: number; mtimeMs: number } | undefined> {
    return nodeFileLayer.stat(path);
  }

  async syncDir(path: string): Promise<void> {
    this.alive();
    if (this.options.skipSync) return;
    await nodeFileLayer.syncDir(path);
    for (const f of [...this.newFiles]) if (dirname(f) === path) this.newFiles.delete(f);
    for (let i = this.renames.length - 1; i >= 0; i--) if (dirname(this.renames[i]![1]) === path) this.renames.splice(i, 1);
  }

  /**
   * Power loss: every file goes back to its last completed fsync, newer directory entries vanish.
   * Open handles of the old "process" stay open but refuse further writes.
   */
  crash(): void {
    this.crashed = true;
    for (let i = this.renames.length - 1; i >= 0; i--) {
      const [from, to] = this.renames[i]!;
      if (existsSync(to)) renameSync(to, from);
    }
    for (const [path, s] of this.files) {
      if (!existsSync(path)) continue;
      // Created but its directory entry never synced: the file itself is gone.
      if (this.newFiles.has(path)) {
        unlinkSync(path);
        continue;
      }
      const fd = openSync(path, 'r+');
      try {
        for (let i = s.undo.length - 1; i >= 0; i--) writeSync(fd, s.undo[i]!.bytes, 0, s.undo[i]!.bytes.length, s.undo[i]!.position);
        ftruncateSync(fd, s.durableSize ?? 0);
      } finally {
        closeSync(fd);
      }
    }
  }
}
