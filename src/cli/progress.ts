/**
 * Draws progress on stderr: a bar on a terminal, a line a second otherwise. Call it with the
 * count done so far, and once more with `final` at the end.
 *
 * @example
 * ```ts
 * const show = progressPrinter(total);
 * show(done);
 * show(total, true);
 * ```
 */
export function progressPrinter(total: number, unit = 'events'): (done: number, final?: boolean) => void {
  const started = Date.now();
  let lastLine = 0;
  return (done, final = false) => {
    const now = Date.now();
    if (!final && !process.stderr.isTTY && now - lastLine < 1000) return;
    lastLine = now;
    const share = total === 0 ? 1 : Math.min(1, done / total);
    const rate = done / Math.max(0.001, (now - started) / 1000);
    const bar = `${'#'.repeat(Math.round(share * 30))}${'-'.repeat(30 - Math.round(share * 30))}`;
    const line = `[${bar}] ${(share * 100).toFixed(0).padStart(3)}%  ${done.toLocaleString('en')}/${total.toLocaleString('en')} ${unit}  ${Math.round(rate).toLocaleString('en')} ${unit}/s`;
    process.stderr.write(process.stderr.isTTY ? `\r${line}${final ? '\n' : ''}` : `${line}\n`);
  };
}

/**
 * Progress on stderr: a bar redrawn in place on a terminal, plain lines otherwise (logs, CI),
 * where a line is printed only when the count moves on, at most every `lineEveryMs`.
 */
export interface Progress {
  update(done: number, total: number, detail: string): void;
  /** Ends the bar's line. */
  finish(): void;
}

export interface ProgressOptions {
  label: string;
  stream?: NodeJS.WriteStream;
  /** Defaults to whether the stream is a terminal. */
  tty?: boolean;
  lineEveryMs?: number;
  width?: number;
}

/**
 * @example
 * ```ts
 * const bar = createProgress({ label: 'backfill page_engagement' });
 * bar.update(3, 31, '2 running');
 * bar.finish();
 * ```
 */
export function createProgress(options: ProgressOptions): Progress {
  const stream = options.stream ?? process.stderr;
  const tty = options.tty ?? stream.isTTY === true;
  const width = options.width ?? 30;
  const every = options.lineEveryMs ?? 2000;
  let lastLine = 0;
  let lastDone = -1;
  let drawn = false;
  return {
    update(done, total, detail) {
      if (tty) {
        const filled = total === 0 ? width : Math.round((done / total) * width);
        const pct = total === 0 ? 100 : Math.floor((done / total) * 100);
        stream.write(`\r\u001b[2K${options.label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total} ${pct}%${detail ? `  ${detail}` : ''}`);
        drawn = true;
        return;
      }
      const now = Date.now();
      if (done === lastDone || (now - lastLine < every && done !== total)) return;
      lastLine = now;
      lastDone = done;
      stream.write(`${options.label}: ${done}/${total}${detail ? ` (${detail})` : ''}\n`);
    },
    finish() {
      if (tty && drawn) stream.write('\n');
      drawn = false;
    },
  };
}
