import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { WeirError } from '../errors/catalogue.js';

/**
 * Sends a {@link WeirError} as `{ code, message }`, with Retry-After when it is retriable: the
 * error's `retryAfter` parameter (seconds) when it has one, else 1.
 */
export function sendError(reply: FastifyReply, err: WeirError): FastifyReply {
  reply.code(err.status);
  if (err.retriable) reply.header('retry-after', String(err.params.retryAfter ?? 1));
  reply.header('content-type', 'application/json; charset=utf-8');
  return reply.send(JSON.stringify(err.toJSON()));
}

/**
 * Maps every error a Fastify app can raise to the catalogue, so no answer carries a stack trace
 * or a code outside `WEIR_*`.
 */
export function installErrorHandlers(app: FastifyInstance): void {
  app.setNotFoundHandler((req, reply) => {
    sendError(reply, new WeirError('WEIR_API_NOT_FOUND', { method: req.method, url: req.url.split('?')[0] }));
  });
  app.setErrorHandler((error: FastifyError, req, reply) => {
    if (error instanceof WeirError) return sendError(reply, error);
    switch (error.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return sendError(reply, new WeirError('WEIR_INGEST_BODY_TOO_LARGE', { limit: req.routeOptions.bodyLimit }));
      case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
        return sendError(reply, new WeirError('WEIR_INGEST_INVALID_BODY', { detail: 'body length does not match Content-Length' }));
      default:
        break;
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      return sendError(reply, new WeirError('WEIR_API_INVALID_REQUEST', { detail: error.message }));
    }
    req.log.error({ err: error }, 'request failed');
    return sendError(reply, new WeirError('WEIR_SERVER_INTERNAL_ERROR'));
  });
}
