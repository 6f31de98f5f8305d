import type { FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The built web UI: `vite build --config ui/vite.config.ts` writes it here (from `dist/src/server/`). */
export const UI_DIR = fileURLToPath(new URL('../../public/ui/', import.meta.url));

/**
 * Serves the web UI at `/ui/`: hashed assets with a year of caching, and `index.html` (never cached)
 * for every other path under `/ui/`, so the UI's own router owns its paths. `/` redirects to it.
 * The page itself answers without a session (it shows the log-in form); every API call it makes is
 * checked.
 *
 * @example
 * ```ts
 * await app.register(uiRoutes); // GET /ui/, /ui/live, /ui/assets/…
 * ```
 */
export async function uiRoutes(app: FastifyInstance): Promise<void> {
  if (!existsSync(UI_DIR)) return;
  await app.register(fastifyStatic, {
    root: UI_DIR,
    prefix: '/ui/',
    wildcard: false,
    index: false,
    setHeaders(res, path) {
      res.header('x-content-type-options', 'nosniff');
      res.header('cache-control', path.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
  const index = (_req: unknown, reply: import('fastify').FastifyReply) =>
    reply
      .header('cache-control', 'no-cache')
      .header('x-frame-options', 'DENY')
      .header('referrer-policy', 'same-origin')
      // The UI loads nothing from elsewhere and runs no inline script; event data is rendered as text.
      .header('content-security-policy', "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
      .sendFile('index.html');
  app.get('/ui', (_req, reply) => reply.redirect('/ui/'));
  app.get('/ui/', index);
  app.get('/ui/*', (req, reply) => {
    const path = (req.params as { '*': string })['*'];
    if (path.startsWith('assets/')) return reply.callNotFound();
    return index(req, reply);
  });
  app.get('/', (_req, reply) => reply.redirect('/ui/'));
}
