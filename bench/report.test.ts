import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { atLeast, atMost, BEGIN, END, formatNumber, mergeReport, renderBlock, type BenchReport } from './report.js';

const machine = { cpu: 'Test CPU', cores: 2, ramGiB: 24, kernel: 'Linux 6.1', node: 'v20.20.2', load: '0.50, 0.40, 0.30' };
const report = (name: string, value: number): BenchReport => ({
  name,
  machine,
  date: '2026-11-22T10:11:12.000Z',
  figures: [
    { label: 'saturation', value, unit: 'events/s', ...atLeast(value, 100_000, 'events/s') },
    { label: 'p99', value: 12.345, unit: 'ms' },
  ],
  notes: ['a note'],
});
const HISTORY = '# Benchmarks\n\nIntro.\n\n## bench:ingest — history\n\nhand-written | table\n';
const header = '## Latest figures';

describe('bench report', () => {
  it('renders every figure with the machine, date, load and target verdicts', () => {
    const block = renderBlock(report('ingest', 123_456));
    assert.match(block, /^<!-- bench:ingest -->\n### bench:ingest\n/);
    assert.match(block, /2026-11-22 10:11 UTC, load average 0\.50, 0\.40, 0\.30\. Machine: 2 × Test CPU, 24 GiB, Linux 6\.1, Node v20\.20\.2\./);
    assert.match(block, /\| saturation \| 123,456 events\/s \| ≥ 100,000 events\/s \| met \|/);
    assert.match(block, /\| p99 \| 12\.3 ms \| {2}\| {2}\|/);
    assert.match(renderBlock(report('ingest', 99_999)), /\| \*\*not met\*\* \|/);
    assert.match(block, /\n- a note$/);
  });

  it('accepts a machine given as a string and renders a bench that did not run with its reason', () => {
    assert.match(renderBlock({ ...report('realtime', 1), machine: '2 × Some CPU' }), /Machine: 2 × Some CPU\./);
    assert.equal(renderBlock({ name: 'realtime', reason: 'bench/realtime.ts is missing' }), '<!-- bench:realtime -->\n### bench:realtime\n\nNot run: bench/realtime.ts is missing.');
  });

  it('inserts the generated section before the first heading and keeps the history', () => {
    const page = mergeReport(HISTORY, ['ingest', 'queries'], [report('ingest', 120_000)], header);
    assert.ok(page.startsWith('# Benchmarks\n\nIntro.\n\n<!-- bench:begin -->'));
    assert.ok(page.endsWith(`${END}\n\n## bench:ingest — history\n\nhand-written | table\n`));
    assert.ok(page.indexOf(header) > page.indexOf(BEGIN));
  });

  it('replaces only the blocks of the benches that ran, in the listed order', () => {
    const first = mergeReport(HISTORY, ['ingest', 'queries'], [report('queries', 1), report('ingest', 120_000)], header);
    const second = mergeReport(first, ['ingest', 'queries'], [report('ingest', 130_000)], header);
    assert.match(second, /130,000 events\/s/);
    assert.doesNotMatch(second, /120,000 events\/s/);
    // The queries block of the first run is still there, after ingest.
    assert.ok(second.indexOf('### bench:queries') > second.indexOf('### bench:ingest'));
    assert.equal(second.split(BEGIN).length, 2);
    assert.equal(second.split('### bench:ingest\n').length, 2);
    // Merging the same results twice changes nothing.
    assert.equal(mergeReport(second, ['ingest', 'queries'], [report('ingest', 130_000)], header), second);
  });

  it('formats numbers to about three significant digits and computes targets', () => {
    assert.deepEqual([formatNumber(123456.7), formatNumber(12.345), formatNumber(1.2345), formatNumber(0.45678), formatNumber(0)], ['123,457', '12.3', '1.23', '0.457', '0']);
    assert.deepEqual(atMost(21, 20, 'ms'), { target: '≤ 20 ms', met: false });
    assert.deepEqual(atLeast(16_667, 1_000_000 / 60, 'events/s'), { target: '≥ 16,667 events/s', met: true });
  });
});
