/**
 * The one catalogue of Weir errors. Every error that leaves a process (an HTTP 4xx/5xx body, a
 * CLI message, a log line, a failed event's reason) carries one of these stable codes.
 *
 * Codes follow `WEIR_<AREA>_<PROBLEM>`. Whether an error is worth retrying is a property of the
 * error, never decided at the call site.
 *
 * @example
 * ```ts
 * throw new WeirError('WEIR_INGEST_BODY_TOO_LARGE', { limit: 512000 });
 * // err.status === 413, err.retriable === false, err.message === 'request body exceeds 512000 bytes'
 * ```
 */

interface ErrorSpec {
  /** HTTP status when the error answers a request. */
  readonly status: number;
  /** Message template; `{name}` is replaced from the params. */
  readonly message: string;
  /** True when the same request may succeed later (answered with Retry-After). */
  readonly retriable: boolean;
}

function spec(status: number, message: string, retriable = false): ErrorSpec {
  return { status, message, retriable };
}

export const ERRORS = {
  // configuration and CLI
  WEIR_CONFIG_INVALID: spec(500, 'invalid configuration: {detail}'),
  WEIR_CONFIG_FILE_UNREADABLE: spec(500, 'cannot read configuration file {path}: {detail}'),
  WEIR_CLI_INVALID_OPTION: spec(400, 'invalid value for {option}: {value} ({detail})'),

  // authentication
  WEIR_AUTH_MISSING_WRITE_KEY: spec(401, 'no write key: send HTTP Basic auth with the write key as user name, or a writeKey field'),
  WEIR_AUTH_UNKNOWN_WRITE_KEY: spec(401, 'unknown write key'),
  WEIR_AUTH_MISSING_TOKEN: spec(401, 'this endpoint needs an admin token: Authorization: Bearer <token>'),
  WEIR_AUTH_INVALID_TOKEN: spec(401, 'invalid admin token'),
  WEIR_AUTH_FORBIDDEN: spec(403, 'this needs the {role} role in the workspace'),
  WEIR_AUTH_NO_SESSION: spec(401, 'sign in first: this needs a session cookie (or an admin token: Authorization: Bearer <token>)'),
  WEIR_AUTH_CSRF_REJECTED: spec(403, 'refused as a possible cross-site request: {detail}'),
  WEIR_AUTH_BAD_CREDENTIALS: spec(401, 'wrong email or password'),
  WEIR_AUTH_TOO_MANY_ATTEMPTS: spec(429, 'too many failed sign-ins for this email from this address; try again in {retryAfter} s', true),

  // request-level ingest problems: nothing in the request is stored
  WEIR_INGEST_MALFORMED_JSON: spec(400, 'request body is not valid JSON: {detail}'),
  WEIR_INGEST_INVALID_UTF8: spec(400, 'request body is not valid UTF-8'),
  WEIR_INGEST_INVALID_BODY: spec(400, '{detail}'),
  WEIR_INGEST_FORBIDDEN_KEY: spec(400, 'key "{key}" is not allowed in event data'),
  WEIR_INGEST_BODY_TOO_LARGE: spec(413, 'request body exceeds {limit} bytes'),
  WEIR_INGEST_EVENT_TOO_LARGE: spec(413, 'event at index {index} is {size} bytes, over the limit of {limit}'),
  WEIR_INGEST_TOO_MANY_ITEMS: spec(413, 'batch has {count} items, over the limit of {limit}'),
  WEIR_INGEST_TOO_DEEP: spec(400, 'event at index {index} nests deeper than {limit} levels'),
  WEIR_INGEST_TOO_MANY_PROPERTIES: spec(400, 'event at index {index} has more than {limit} keys'),
  WEIR_INGEST_BAD_GZIP: spec(400, 'request body is not valid gzip'),
  WEIR_INGEST_UNSUPPORTED_ENCODING: spec(415, 'content-encoding {encoding} is not supported (use gzip or none)'),
  WEIR_INGEST_UNSUPPORTED_MEDIA_TYPE: spec(415, 'content-type {type} is not supported (use application/json)'),
  WEIR_INGEST_UNAVAILABLE: spec(503, 'events cannot be made durable right now: {detail}', true),
  WEIR_INGEST_BACKLOG_FULL: spec(
    503,
    'the event log holds {bytes} bytes that not every sink has read, over its budget of {budget} bytes (log.backlogBudgetBytes); events are accepted again once the sinks catch up',
    true,
  ),
  WEIR_INGEST_RATE_LIMITED: spec(429, 'source {source} is over its rate limit of {rate} events/s (burst {burst})', true),

  // quotas: `retryAfter` (seconds) becomes the Retry-After header
  WEIR_QUOTA_EXCEEDED: spec(
    429,
    'workspace {workspace} has used its monthly quota of {quota} events; events are accepted again when the month ends (UTC) or the quota is raised',
    true,
  ),

  // item-level spec violations: the item is kept as a failed event with this reason
  WEIR_EVENT_NOT_AN_OBJECT: spec(400, 'event is not a JSON object'),
  WEIR_EVENT_MISSING_TYPE: spec(400, 'event has no type'),
  WEIR_EVENT_UNKNOWN_TYPE: spec(400, 'event type "{type}" is not one of track, page, screen, identify, group, alias'),
  WEIR_EVENT_MISSING_IDENTITY: spec(400, 'event has neither userId nor anonymousId'),
  WEIR_EVENT_MISSING_EVENT_NAME: spec(400, 'track event has no event name'),
  WEIR_EVENT_MISSING_GROUP_ID: spec(400, 'group event has no groupId'),
  WEIR_EVENT_MISSING_PREVIOUS_ID: spec(400, 'alias event has no previousId'),
  WEIR_EVENT_INVALID_FIELD: spec(400, 'field {field} must be {expected}'),
  WEIR_EVENT_INVALID_TIMESTAMP: spec(400, 'field {field} is not an ISO-8601 date'),
  WEIR_EVENT_NON_FINITE_NUMBER: spec(400, 'field {field} holds a number out of range'),
  WEIR_EVENT_BOT: spec(400, 'event comes from a bot or crawler ({name})'),

  // the event log
  WEIR_LOG_FSYNC_FAILED: spec(503, 'the event log could not sync to disk: {detail}', true),
  WEIR_LOG_WRITE_FAILED: spec(503, 'the event log could not write: {detail}', true),
  WEIR_LOG_CLOSED: spec(503, 'the event log is closed', true),
  WEIR_LOG_LOCKED: spec(500, 'partition {partition} is locked by process {pid}'),
  WEIR_LOG_CORRUPT: spec(500, 'corrupt record in {file} at byte {position}: {detail}'),
  WEIR_LOG_DISK_FULL: spec(503, 'the event log is out of disk space: {detail}', true),

  WEIR_LOG_UNAVAILABLE: spec(503, 'the event log at {servers} is unreachable: {detail}', true),

  // warehouse and queries
  WEIR_WAREHOUSE_UNAVAILABLE: spec(503, 'the warehouse ({engine}) is unreachable: {detail}', true),
  WEIR_LIVE_UNAVAILABLE: spec(503, 'live data is unavailable: {detail}', true),
  WEIR_LIVE_STORE_UNAVAILABLE: spec(503, 'the real-time store ({store}) at {url} is unreachable: {detail}', true),
  WEIR_ROLE_ELSEWHERE: spec(503, '{what} is not served by this process (role {role}); {detail}'),
  WEIR_WAREHOUSE_BUSY: spec(503, 'the warehouse ({engine}) asked to retry: {detail}', true),
  WEIR_WAREHOUSE_FAILED: spec(500, 'the warehouse ({engine}) refused a write: {detail}'),
  WEIR_QUERY_FAILED: spec(400, 'query failed: {detail}'),
  WEIR_QUERY_READ_ONLY: spec(400, 'queries are read-only: {detail}'),
  WEIR_QUERY_TIMEOUT: spec(400, 'query stopped after {timeoutMs} ms'),

  // the lake's object storage (local directory, S3, Azure Blob)
  WEIR_BLOB_INVALID_KEY: spec(400, 'invalid blob key "{key}": {detail}'),
  WEIR_BLOB_NOT_FOUND: spec(404, 'no blob {key} in the {store} store'),
  WEIR_BLOB_ACCESS_DENIED: spec(403, 'the {store} store refused access: {detail}'),
  WEIR_BLOB_CONTAINER_NOT_FOUND: spec(500, 'the {store} store has no bucket or container {container}'),
  WEIR_BLOB_UNAVAILABLE: spec(503, 'the {store} store is unavailable: {detail}', true),
  WEIR_BLOB_FAILED: spec(500, 'the {store} store failed: {detail}'),
  // pipelines: definitions (reported with the file and line), runs and tasks
  WEIR_PIPELINE_NO_FOLDER: spec(400, 'no pipelines folder at {dir}'),
  WEIR_PIPELINE_BAD_NAME: spec(400, 'model name {model} (the file name) must be letters, digits and _, not starting with a digit'),
  WEIR_PIPELINE_DUPLICATE_MODEL: spec(400, 'a model named {model} is also defined in {other}'),
  WEIR_PIPELINE_BAD_HEADER: spec(400, 'bad header: {detail}'),
  WEIR_PIPELINE_BAD_TEMPLATE: spec(400, 'bad template expression {{ {expression} }}: {detail}'),
  WEIR_PIPELINE_UNKNOWN_REF: spec(400, '{model} depends on {ref}, which is not a model'),
  WEIR_PIPELINE_CYCLE: spec(400, 'models depend on each other in a cycle: {path}'),
  WEIR_PIPELINE_INVALID: spec(400, '{count} problem(s) in the pipelines of {dir}'),
  WEIR_PIPELINE_NOT_FOUND: spec(404, 'no pipeline model {model}'),
  WEIR_PIPELINE_RUN_NOT_FOUND: spec(404, 'no pipeline run {run}'),
  WEIR_PIPELINE_RUN_ACTIVE: spec(409, 'run {run} is still running; retry it once it has finished'),
  WEIR_PIPELINE_TASK_TIMEOUT: spec(500, '{model} {partition} stopped after {timeoutMs} ms'),
  WEIR_PIPELINE_STEP_FAILED: spec(500, 'shell step {model} {partition} failed: {detail}'),
  WEIR_PIPELINE_CHECK_FAILED: spec(500, '{count} error check(s) of {model} {partition} failed: {detail}'),
  WEIR_PIPELINE_LEASE_EXPIRED: spec(500, '{model} {partition}: its worker stopped renewing the lease ({count} times)'),

  // management API
  WEIR_API_NOT_FOUND: spec(404, 'no route {method} {url}'),
  WEIR_API_INVALID_REQUEST: spec(400, '{detail}'),
  WEIR_SOURCE_NOT_FOUND: spec(404, 'no source {source}'),

  // the lake
  WEIR_LAKE_QUOTA_EXCEEDED: spec(413, 'storing {size} bytes would exceed the workspace storage quota ({used} of {quota} bytes used)'),
  WEIR_LAKE_DISABLED: spec(409, 'the lake is disabled (lake.enabled = false)'),
  WEIR_TASK_NOT_FOUND: spec(404, 'no task {id} (tasks are kept in memory until the server restarts)'),
  WEIR_SOURCE_NAME_TAKEN: spec(409, 'a source named {name} already exists in this workspace'),

  // the browser tracker
  WEIR_TRACKER_NOT_BUILT: spec(500, 'the browser tracker {path} is missing ({detail}): run npm run build'),

  // users of the web UI
  WEIR_USER_EMAIL_TAKEN: spec(409, 'a user with email {email} already exists'),
  WEIR_USER_NOT_FOUND: spec(404, 'no user {email}'),

  WEIR_SERVER_INTERNAL_ERROR: spec(500, 'internal error'),
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** Parameters substituted into a message template. */
export type ErrorParams = Record<string, string | number | bigint | boolean | undefined>;

function render(template: string, params: ErrorParams): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const v = params[name];
    return v === undefined ? whole : String(v);
  });
}

/**
 * An error with a stable code from {@link ERRORS}.
 *
 * @example
 * ```ts
 * const err = new WeirError('WEIR_LOG_FSYNC_FAILED', { detail: 'EIO' });
 * if (err.retriable) reply.header('retry-after', '1');
 * ```
 */
export class WeirError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retriable: boolean;
  readonly params: ErrorParams;

  constructor(code: ErrorCode, params: ErrorParams = {}, options?: { cause?: unknown }) {
    const s: ErrorSpec = ERRORS[code];
    super(render(s.message, params), options);
    this.name = 'WeirError';
    this.code = code;
    this.status = s.status;
    this.retriable = s.retriable;
    this.params = params;
  }

  /** The JSON body of an HTTP error answer. */
  toJSON(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

/** The message of an error code without throwing, for item-level rejections on the hot path. */
export function errorMessage(code: ErrorCode, params: ErrorParams = {}): string {
  return render(ERRORS[code].message, params);
}

/** True for errors that may succeed if tried again; programming errors never are. */
export function isRetriable(err: unknown): boolean {
  return err instanceof WeirError && err.retriable;
}
