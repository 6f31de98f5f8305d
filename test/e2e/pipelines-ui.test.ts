import { describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { useBrowser } from '../helpers/browser.js';
import { writeProject } from '../helpers/pipeline-project.js';
import { WeirServer, removeDir, tempDir } from '../helpers/weir-process.js';
import { apiSignIn, createUser, signIn } from '../helpers/ui-session.js';

/**
 * A run of a few seconds: extract, then transform (slow) beside broken (fails after a second),
 * report waits for both, and quality builds a table whose error check fails.
 */
const PROJECT = {
  'extract.sh': 'echo extracting\nsleep 1\necho extracted\n',
  'transform.sh': '# depends_on: [extract]\necho transforming\nsleep 3\necho transformed\n',
  'broken.sh': '# depends_on: [extract]\necho "reading input"\nsleep 1\necho "fatal: the input is broken" >&2\nexit 3\n',
  'report.sh': '# depends_on: [transform, broken]\necho report\n',
  'quality.sql': '-- materialized: table\n-- checks:\n--   - row_count: {min: 5}\nselect 1 as x',
};

describe('the Pipelines page', () => {
  const browser = useBrowser();

  browser.test('runs a pipeline, follows it on a live Gantt chart, shows the failing log and check, and retries', async ({ page }) => {
    const root = tempDir('weir-pui-');
    const dir = writeProject(PROJECT, join(root, 'pipelines'));
    const server = await WeirServer.start({ dataDir: join(root, '.weir'), env: { WEIR_PIPELINES_DIR: dir } });
    try {
      // Pipelines are the default workspace's: an editor there runs and retries, a viewer only reads.
      createUser(server.dataDir, 'ed@example.com', undefined, { role: 'editor' });
      createUser(server.dataDir, 'vi@example.com', undefined, { role: 'viewer' });
      const viewer = await apiSignIn(server.url, 'vi@example.com');
      const viewerRuns = await fetch(`${server.url}/api/pipelines/runs`, { headers: viewer.headers });
      assert.equal(viewerRuns.status, 200);
      const viewerGraph = (await (await fetch(`${server.url}/api/pipelines`, { headers: viewer.headers })).json()) as { canRun: boolean };
      assert.equal(viewerGraph.canRun, false);
      const refused = await fetch(`${server.url}/api/pipelines/runs`, { method: 'POST', headers: viewer.headers, body: '{}' });
      assert.equal(refused.status, 403);
      assert.equal(((await refused.json()) as { code: string }).code, 'WEIR_AUTH_FORBIDDEN');

      await signIn(page, server.url, 'ed@example.com');
      await page.goto(`${server.url}/ui/pipelines`);

      // The graph: five models, report downstream of transform and broken.
      await page.locator('svg.dag g.node').first().waitFor();
      assert.equal(await page.locator('svg.dag g.node').count(), 5);
      assert.equal(await page.locator('svg.dag path[data-edge="broken->report"]').count(), 1);
      await page.locator('svg.dag g.node[data-model="quality"]').click();
      await page.locator('.model-panel tr[data-check="row_count"]').waitFor();

      await page.locator('button[data-action="run-all"]').click();
      await page.waitForURL(/\/ui\/pipelines\/runs\/run_/);
      const runUrl = page.url();

      // Follow the Gantt chart: every state each row shows, until the run has finished.
      const seen = new Map<string, string[]>();
      const deadline = Date.now() + 60_000;
      let nowLine = false;
      for (;;) {
        const rows = await page.locator('svg.gantt g.task').evaluateAll((gs) => gs.map((g) => [g.getAttribute('data-task') ?? '', g.getAttribute('data-state') ?? '']));
        for (const [task, state] of rows) {
          const list = seen.get(task!) ?? [];
          if (list[list.length - 1] !== state) list.push(state!);
          seen.set(task!, list);
        }
        nowLine ||= (await page.locator('svg.gantt line.now').count()) > 0;
        const title = await page.locator('h1 .badge').getAttribute('data-state').catch(() => null);
        if (title === 'failed') break;
        assert.ok(Date.now() < deadline, `the run did not finish: ${JSON.stringify([...seen])}`);
        await page.waitForTimeout(150);
      }
      assert.ok(nowLine, 'a "now" line while the run runs');
      // transform was seen waiting or running and then done: the chart changed while it ran.
      const transform = seen.get('transform') ?? [];
      assert.ok(transform.includes('running'), `transform states: ${transform.join(' → ')}`);
      assert.equal(transform[transform.length - 1], 'succeeded');
      assert.ok(transform.indexOf('running') < transform.indexOf('succeeded'));
      assert.deepEqual(
        Object.fromEntries([...seen].map(([task, states]) => [task, states[states.length - 1]])),
        { extract: 'succeeded', quality: 'check_failed', transform: 'succeeded', broken: 'failed', report: 'upstream_failed' },
      );
      assert.equal(await page.locator('svg.gantt line.now').count(), 0, 'no "now" line once finished');

      // The failing task's log, from its bar.
      await page.locator('svg.gantt g.task[data-task="broken"] rect.bar').click();
      await page.locator('pre[data-log]', { hasText: 'fatal: the input is broken' }).waitFor();
      assert.match((await page.locator('pre[data-log]').textContent()) ?? '', /reading input/);
      // The failed check.
      await page.locator('tr[data-check="row_count"][data-status="fail"]').waitFor();

      mkdirSync('test-artifacts', { recursive: true });
      await page.setViewportSize({ width: 1280, height: 1100 });
      await page.screenshot({ path: 'test-artifacts/pipelines.png', fullPage: true });

      // Fix the definitions, then retry the failed part: it runs, extract and transform do not.
      writeProject({ 'broken.sh': '# depends_on: [extract]\necho fixed\n', 'quality.sql': '-- materialized: table\n-- checks:\n--   - row_count: {min: 1}\nselect 1 as x' }, dir);
      // The worker looks at the definitions folder again at most every 2 s (ProjectCache): a
      // retry sooner than that may run the old step, as an operator's would.
      await page.waitForTimeout(2500);
      await page.locator('button[data-action="retry"]').click();
      await page.locator('h1 .badge[data-state="succeeded"]').waitFor({ timeout: 60_000 });
      assert.equal(await page.locator('svg.gantt g.task[data-task="broken"] rect.bar').count(), 2, 'both attempts of broken are drawn');
      assert.equal(await page.locator('svg.gantt g.task[data-task="extract"] rect.bar').count(), 1, 'extract did not run again');
      assert.equal(await page.locator('button[data-action="retry"]').count(), 0);

      // A deep link opens the run directly.
      await page.goto(runUrl);
      await page.locator('h1 .badge[data-state="succeeded"]').waitFor();
      assert.equal(await page.locator('svg.gantt g.task').count(), 5);

      // Back on the overview the nodes carry their last run's state, and the run is listed.
      await page.locator('a', { hasText: '← Pipelines' }).click();
      await page.locator('svg.dag g.node[data-model="broken"][data-state="succeeded"]').waitFor();
      await page.locator('svg.dag g.node[data-model="quality"]').click();
      await page.locator('.model-panel tr[data-check="row_count"] .mark').nth(1).waitFor();
      assert.equal(await page.locator('table.runs tr[data-run]').count(), 1);
      await page.screenshot({ path: 'test-artifacts/pipelines-graph.png', fullPage: true });
      assert.equal(await server.stop(), 0);
    } finally {
      await server.stop().catch(() => {});
      removeDir(root);
    }
  });
});
