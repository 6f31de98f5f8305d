import type { FileHandleLike, FileLayer } from './file-layer.js';

/**
 * Wraps a {@link FileLayer} so every `datasync` is timed, which gives the fsync latency metric
 * without the log knowing about metrics.
 *
 * @example
 * ```ts
 * const layer = timedFileLayer(nodeFileLayer, (s) => metrics.fsyncLatency.observe(s));
 * ```
 */
export function timedFileLayer(base: FileLayer, onSync: (seconds: number) => void): FileLayer {
  return {
    ...base,
    async open(path, flags) {
      const fh = await base.open(path, flags);
      const timed: FileHandleLike = {
        read: (b, o, l, p) => fh.read(b, o, l, p),
        writev: (bufs, p) => fh.writev(bufs, p),
        truncate: (n) => fh.truncate(n),
        size: () => fh.size(),
        close: () => fh.close(),
        async datasync() {
          const t = performance.now();
          await fh.datasync();
          onSync((performance.now() - t) / 1000);
        },
      };
      return timed;
    },
  };
}
