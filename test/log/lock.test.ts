import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WeirError } from '../../src/errors/catalogue.js';
import { openFileEventLog } from '../../src/log/file/index.js';
import { quiet, tempDir } from './helpers.js';

function locked(err: unknown): boolean {
  assert.ok(err instanceof WeirError);
  assert.equal(err.code, 'WEIR_LOG_LOCKED');
  return true;
}

describe('file log writer lock', () => {
  it('takes over a lock left by a dead process', async () => {
    const tmp = await tempDir('lock');
    try {
      const child = spawnSync(process.execPath, ['-e', '']);
      assert.ok(child.pid);
      await mkdir(join(tmp.dir, '0'), { recursive: true });
      await writeFile(join(tmp.dir, '0', 'lock'), `${child.pid}\n`);
      const log = await openFileEventLog({ dir: tmp.dir, logger: quiet });
      const writer = await log.openWriter(0);
      assert.equal((await readFile(join(tmp.dir, '0', 'lock'), 'utf8')).trim(), String(process.pid));
      await writer.close();
      await assert.rejects(readFile(join(tmp.dir, '0', 'lock')), { code: 'ENOENT' });
      await log.close();
    } finally {
      await tmp.cleanup();
    }
  });

  it('refuses a partition locked by a live process', async () => {
    const tmp = await tempDir('lock');
    try {
      await mkdir(join(tmp.dir, '0'), { recursive: true });
      await writeFile(join(tmp.dir, '0', 'lock'), `${process.ppid}\n`);
      const log = await openFileEventLog({ dir: tmp.dir, logger: quiet });
      await assert.rejects(log.openWriter(0), (err) => locked(err) && (err as WeirError).params.pid === process.ppid);
      await log.close();
    } finally {
      await tmp.cleanup();
    }
  });

  it('refuses a second writer from another log instance in the same process', async () => {
    const tmp = await tempDir('lock');
    try {
      const a = await openFileEventLog({ dir: tmp.dir, logger: quiet });
      const b = await openFileEventLog({ dir: tmp.dir, logger: quiet });
      const writer = await a.openWriter(0);
      await assert.rejects(b.openWriter(0), locked);
      await writer.close();
      const w2 = await b.openWriter(0);
      await w2.append([Buffer.from('x')]);
      await a.close();
      await b.close();
    } finally {
      await tmp.cleanup();
    }
  });
});
