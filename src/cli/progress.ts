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

