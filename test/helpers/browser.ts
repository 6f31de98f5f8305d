import { existsSync } from 'node:fs';
import { after, before, it, type TestContext } from 'node:test';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';

/** Debian's Chromium; `WEIR_CHROMIUM` points elsewhere. */
export const CHROMIUM_PATH = process.env.WEIR_CHROMIUM ?? '/usr/bin/chromium';

// Headless, and quiet: no sandbox (containers), no GPU, and none of Chromium's own background
// traffic, so every request a test sees was made by the page.
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Launches headless Chromium, or says why it cannot. */
export async function launchChromium(): Promise<Browser | { skip: string }> {
  if (!existsSync(CHROMIUM_PATH)) return { skip: `chromium is not installed at ${CHROMIUM_PATH}` };
  try {
    return await chromium.launch({ executablePath: CHROMIUM_PATH, args: ARGS });
  } catch (err) {
    return { skip: `chromium at ${CHROMIUM_PATH} did not start: ${(err as Error).message.split('\n')[0]}` };
  }
}

/** What a browser test gets: a fresh context (no cookies, storage or routes from other tests) and a page in it. */
export interface BrowserTest {
  context: BrowserContext;
  page: Page;
}

export interface BrowserSuite {
  /** Declares a test that runs in its own new context; skipped when Chromium is unavailable. */
  test(title: string, fn: (b: BrowserTest, ctx: TestContext) => Promise<void>, options?: BrowserContextOptions): void;
}

/**
 * Launches Chromium once for the enclosing `describe` and closes it after. Without Chromium the
 * tests are skipped with a line naming it, or fail when `WEIR_REQUIRE_SERVICES=1`.
 *
 * @example
 * ```ts
 * describe('the login page', () => {
 *   const browser = useBrowser();
 *   browser.test('shows the form', async ({ page }) => {
 *     await page.goto(url);
 *     assert.equal(await page.locator('form').count(), 1);
 *   });
 * });
 * ```
 */
export function useBrowser(): BrowserSuite {
  let browser: Browser | undefined;
  let skip: string | undefined;

  before(async () => {
    const r = await launchChromium();
    if ('skip' in r) {
      if (process.env.WEIR_REQUIRE_SERVICES === '1') throw new Error(`chromium is required but unavailable: ${r.skip}`);
      skip = r.skip;
      console.log(`SKIP chromium: ${r.skip}`);
      return;
    }
    browser = r;
  });
  after(async () => {
    await browser?.close();
  });

  return {
    test(title, fn, options) {
      it(title, async (ctx) => {
        if (!browser) return ctx.skip(skip ?? 'no browser');
        const context = await browser.newContext(options);
        try {
          await fn({ context, page: await context.newPage() }, ctx);
        } finally {
          await context.close();
        }
      });
    },
  };
}
