import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WeirServer, basic, removeDir, tailAll, tempDir } from '../helpers/weir-process.js';

test('SIGTERM during load: in-flight requests finish, every 200 is in the log, exit 0', async () => {
  const dataDir = tempDir('weir-drain-');
  try {
    const server = await WeirServer.start({ dataDir });
    const acked = new Set<string>();
    let stop = false;
    let n = 0;
    let refusedAfterDrain = 0;
    const sender = async (s: number) => {
      while (!stop) {
        const ids = Array.from({ length: 10 }, () => `d-${s}-${n++}`);
        try {
          const res = await fetch(`${server.url}/v1/batch`, {
            method: 'POST',
            headers: { authorization: basic(server.writeKey), 'content-type': 'application/json' },
            body: JSON.stringify({ batch: ids.map((id) => ({ type: 'track', event: 'Drain', userId: 'u', messageId: id })) }),
          });
          if (res.status === 200) for (const id of ids) acked.add(id);
          else refusedAfterDrain++;
          await res.arrayBuffer();
        } catch {
          refusedAfterDrain++;
          await new Promise((r) => setTimeout(r, 5));
        }
      }
    };
    const senders = Array.from({ length: 8 }, (_, s) => sender(s));
    await new Promise((r) => setTimeout(r, 500));
    const code = await server.stop('SIGTERM');
    stop = true;
    await Promise.all(senders);
    assert.equal(code, 0);
    assert.ok(acked.size > 100, `load was applied (${acked.size})`);
    const inLog = new Set(tailAll(dataDir).map((r) => r.event.messageId as string));
    const lost = [...acked].filter((id) => !inLog.has(id));
    assert.deepEqual(lost, [], `${lost.length} acknowledged events missing after the drain`);
  } finally {
    removeDir(dataDir);
  }
});
