import type { FileHandleLike, FileLayer } from './file-layer.js';

/**
 * Wraps a {@link FileLayer} so every `datasync` and `writev` is timed, which gives the log's
 * latency metrics without the log knowing about metrics. Writes are timed too because a write
 * can stall as well (the kernel throttles writers when too much dirty data waits for disk).
 *
 * @example
 * ```ts
 * const layer = timedFileLayer(nodeFileLayer, (s) => metrics.fsyncLatency.observe(s), (s) => metrics.writeLatency.observe(s));
 * ```
 */
export function timedFileLayer(base: FileLayer, onSync: (seconds: number) => void, onWrite?: (seconds: number) => void): FileLayer {
  return {
    ...base,
    async open(path, flags) {
      const fh = await base.open(path, flags);
      const timed: FileHandleLike = {
        read: (b, o, l, p) => fh.read(b, o, l, p),
        async writev(bufs, p) {
          const t = performance.now();
          const n = await fh.writev(bufs, p);
          onWrite?.((performance.now() - t) / 1000);
          return n;
        },
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
