/**
 * Settings that belong to one source or one workspace rather than to the whole installation:
 * retention (hot warehouse, cold lake), enrichment and privacy, quotas. Stored as JSON text in the
 * metadata store, validated here on every write, and read back with every default filled.
 *
 * @example
 * ```ts
 * const s = parseSourceSettings('{"lakeRetentionDays": 3650}');
 * s.warehouseRetentionDays; // null (keep forever), s.enrich.ip === 'truncate'
 * const patched = patchSourceSettings(s, { 'enrich.bots': 'fail' });
 * ```
 */
import { Type, type Static, type TObject } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { WeirError } from '../errors/catalogue.js';

const days = (description: string) =>
  Type.Union([Type.Integer({ minimum: 1, maximum: 100_000 }), Type.Null()], { default: null, description });
const Bytes = Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { default: null });

export const EnrichSettingsSchema = Type.Object(
  {
    userAgent: Type.Boolean({ default: true, description: 'parse context.userAgent into browser, os and device type' }),
    referrer: Type.Boolean({ default: true, description: 'classify the referrer (search, social, email, internal, direct, other)' }),
    campaign: Type.Boolean({ default: true, description: 'UTM parameters and click ids into context.campaign' }),
    pageUrl: Type.Boolean({ default: true, description: 'split the page url into host, path and query' }),
    bots: Type.Union([Type.Literal('keep'), Type.Literal('fail')], {
      default: 'keep',
      description: 'keep bot traffic flagged (context.bot), or send it to failed events with reason WEIR_EVENT_BOT',
    }),
    ip: Type.Union([Type.Literal('keep'), Type.Literal('truncate'), Type.Literal('drop')], {
      default: 'truncate',
      description: 'what is stored of the client ip: all of it, the /24 (IPv4) or /48 (IPv6) network, or nothing',
    }),
    geoip: Type.Boolean({ default: true, description: 'country, region and city when a GeoIP database is configured' }),
    pseudonymise: Type.Array(Type.String({ minLength: 1 }), {
      default: [],
      description: 'field paths replaced by a keyed hash, e.g. userId, traits.email',
    }),
  },
  { default: {}, additionalProperties: false },
);

export const SourceSettingsSchema = Type.Object(
  {
    warehouseRetentionDays: days('hot: days of events kept in the warehouse; null keeps them all'),
    lakeRetentionDays: days('cold: days of raw events kept in the lake; null keeps them forever'),
    enrich: EnrichSettingsSchema,
    rateLimitEventsPerSecond: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], {
      default: null,
      description: "events per second this source's write key may send; 0: no limit; null: the server's limits.rateLimitEventsPerSecond",
    }),
    rateLimitBurst: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()], {
      default: null,
      description: 'events the write key may send at once above its rate; null: the server default, or one second of the rate',
    }),
  },
  { additionalProperties: false },
);

export const WorkspaceSettingsSchema = Type.Object(
  {
    storageQuotaBytes: Bytes,
    monthlyEventQuota: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { default: null }),
    quotaMode: Type.Union([Type.Literal('refuse'), Type.Literal('flag')], {
      default: 'refuse',
      description: 'over the monthly event quota: refuse with 429, or accept and flag the events',
    }),
  },
  { additionalProperties: false },
);

export type EnrichSettings = Static<typeof EnrichSettingsSchema>;
export type SourceSettings = Static<typeof SourceSettingsSchema>;
export type WorkspaceSettings = Static<typeof WorkspaceSettingsSchema>;

function parseWith<T extends TObject>(schema: T, text: string, what: string): Static<T> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new WeirError('WEIR_API_INVALID_REQUEST', { detail: `${what} settings are not JSON` });
  }
  return check(schema, raw, what);
}

function check<T extends TObject>(schema: T, raw: unknown, what: string): Static<T> {
  const value = Value.Default(schema, Value.Clone(raw));
  if (!Value.Check(schema, value)) {
    const first = Value.Errors(schema, value).First();
    const path = first?.path.replace(/^\//, '').replace(/\//g, '.') || '(root)';
    throw new WeirError('WEIR_API_INVALID_REQUEST', { detail: `${what} setting ${path}: ${first?.message ?? 'invalid'}` });
  }
  return value as Static<T>;
}

export function parseSourceSettings(text: string): SourceSettings {
  return parseWith(SourceSettingsSchema, text, 'source');
}

export function parseWorkspaceSettings(text: string): WorkspaceSettings {
  return parseWith(WorkspaceSettingsSchema, text, 'workspace');
}

/**
 * Applies `path → value` changes (dotted paths, e.g. `enrich.ip`) and validates the result, so a
 * CLI or API can change one setting without restating the rest. Unknown paths are refused.
 */
function patch<T extends TObject>(schema: T, current: Static<T>, changes: Record<string, unknown>, what: string): Static<T> {
  const next = Value.Clone(current) as Record<string, unknown>;
  for (const [path, value] of Object.entries(changes)) {
    const parts = path.split('.');
    let node: Record<string, unknown> = next;
    for (const p of parts.slice(0, -1)) {
      const child = node[p];
      if (typeof child !== 'object' || child === null || Array.isArray(child)) {
        throw new WeirError('WEIR_API_INVALID_REQUEST', { detail: `unknown ${what} setting ${path}` });
      }
      node = child as Record<string, unknown>;
    }
    const leaf = parts[parts.length - 1]!;
    if (!(leaf in node)) throw new WeirError('WEIR_API_INVALID_REQUEST', { detail: `unknown ${what} setting ${path}` });
    node[leaf] = value;
  }
  return check(schema, next, what);
}

export function patchSourceSettings(current: SourceSettings, changes: Record<string, unknown>): SourceSettings {
  return patch(SourceSettingsSchema, current, changes, 'source');
}

export function patchWorkspaceSettings(current: WorkspaceSettings, changes: Record<string, unknown>): WorkspaceSettings {
  return patch(WorkspaceSettingsSchema, current, changes, 'workspace');
}

/**
 * Reads a command-line value for a setting: JSON when it parses (`30`, `null`, `true`,
 * `["userId"]`), the plain string otherwise (`fail`), so `--set enrich.bots=fail` needs no quotes.
 */
export function settingValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
