/**
 * A put body cut into parts, and the multipart scaffolding the S3 and Azure adapters share: a
 * body that fits one part goes up in one request, a larger one part by part (S3 multipart upload,
 * Azure staged blocks) with a few parts in flight, and becomes visible only when the parts are
 * committed.
 */
import { addAbortSignal, type Readable } from 'node:stream';
import type { PutBody } from './blob-store.js';

export interface BodyPart {
  /** 0-based position in the body. */
  index: number;
  data: Buffer;
  /** True for the final part; a body that fits one part is one part with `last` set. */
  last: boolean;
}

/**
 * The body's bytes as they arrive. Aborting the signal destroys a stream body, so a stalled
 * stream ends too.
 */
export async function* bodyChunks(body: PutBody, signal?: AbortSignal): AsyncGenerator<Buffer> {
  signal?.throwIfAborted();
  if (Buffer.isBuffer(body)) {
    yield body;
    return;
  }
  if (body instanceof Uint8Array) {
    yield Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    return;
  }
  if (signal) addAbortSignal(signal, body);
  for await (const chunk of body as Readable) yield typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
}

/**
 * Cuts the body into parts of exactly `partSize` bytes, the last one shorter (empty for an empty
 * body). A full part is held back until more bytes or the end arrive, so `last` is always known.
 */
export async function* bodyParts(body: PutBody, partSize: number, signal?: AbortSignal): AsyncGenerator<BodyPart> {
  let held: Buffer[] = [];
  let heldBytes = 0;
  let full: Buffer | undefined;
  let index = 0;
  for await (let chunk of bodyChunks(body, signal)) {
    while (chunk.length > 0) {
      if (full) {
        yield { index: index++, data: full, last: false };
        full = undefined;
      }
      const take = Math.min(partSize - heldBytes, chunk.length);
      held.push(chunk.subarray(0, take));
      heldBytes += take;
      chunk = chunk.subarray(take);
      if (heldBytes === partSize) {
        full = held.length === 1 ? held[0]! : Buffer.concat(held, heldBytes);
        held = [];
        heldBytes = 0;
      }
    }
  }
  if (full && heldBytes === 0) {
    yield { index, data: full, last: true };
    return;
  }
  if (full) yield { index: index++, data: full, last: false };
  yield { index, data: held.length === 1 ? held[0]! : Buffer.concat(held, heldBytes), last: true };
}

/** One multipart upload in progress, as the adapter drives it. */
export interface MultipartUpload<R> {
  /** Uploads one part; parts run concurrently and may finish in any order. */
  part(p: BodyPart): Promise<R>;
  /** Makes the object visible from the parts' results, in part order. */
  complete(results: R[]): Promise<void>;
  /** Frees what the parts hold; called once the parts have settled, after any failure. */
  abort(): Promise<void>;
}

export interface PartedPutOptions {
  partSize: number;
  /** Parts uploading at once; memory is about `(concurrency + 1) * partSize`. */
  concurrency: number;
  signal?: AbortSignal;
}

/**
 * Puts a body through `single` when it fits one part, else through a multipart upload started
 * by `begin`. Returns the size in bytes. On any failure (the body's stream, the signal, a part)
 * the upload is aborted and nothing becomes visible. Failures of the service calls pass through
 * `serviceError`; the body's own errors reach the caller unchanged.
 */
export async function partedPut<R>(
  body: PutBody,
  opts: PartedPutOptions,
  single: (data: Buffer) => Promise<void>,
  begin: () => Promise<MultipartUpload<R>>,
  serviceError: (err: unknown) => Error,
): Promise<number> {
  const service = <T>(p: Promise<T>): Promise<T> =>
    p.catch((err: unknown) => {
      throw serviceError(err);
    });
  const parts = bodyParts(body, opts.partSize, opts.signal);
  const first = await parts.next();
  if (first.done) throw new Error('bodyParts yields at least one part');
  if (first.value.last) {
    await service(single(first.value.data));
    return first.value.data.length;
  }

  let upload: MultipartUpload<R> | undefined;
  const results: R[] = [];
  const inFlight = new Set<Promise<void>>();
  let failure: { err: unknown } | undefined;
  let size = 0;
  const start = (u: MultipartUpload<R>, p: BodyPart): void => {
    size += p.data.length;
    const task: Promise<void> = service(u.part(p)).then(
      (r) => void (results[p.index] = r),
      (err: unknown) => void (failure ??= { err }),
    );
    inFlight.add(task);
    void task.finally(() => inFlight.delete(task));
  };
  try {
    upload = await service(begin());
    start(upload, first.value);
    for await (const p of parts) {
      while (inFlight.size >= opts.concurrency && !failure) await Promise.race(inFlight);
      if (failure) break;
      start(upload, p);
    }
    await Promise.all(inFlight);
    if (failure) throw failure.err;
    opts.signal?.throwIfAborted();
    await service(upload.complete(results));
    return size;
  } catch (err) {
    await parts.return(undefined);
    await Promise.all(inFlight);
    await upload?.abort().catch(() => {});
    throw err;
  }
}
