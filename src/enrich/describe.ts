import { enrichCampaign } from './campaign.js';
import { copyFields, isPlainObject, type Fields } from './fields.js';
import { readPage } from './page.js';
import { enrichPageUrl } from './page-url.js';
import { enrichReferrer } from './referrer.js';
import { enrichUserAgent } from './user-agent.js';

/**
 * The descriptive enrichment steps: functions of fields the stored event keeps (user agent, page
 * URL, referrer), which add fields and remove none. Unlike the privacy steps they need nothing
 * that is gone once the event is stored, so the collector can leave them to the log's readers.
 */
export type DescriptiveStep = 'userAgent' | 'pageUrl' | 'campaign' | 'referrer';

export const DESCRIPTIVE_STEPS: readonly DescriptiveStep[] = Object.freeze(['userAgent', 'pageUrl', 'campaign', 'referrer']);

/** Which descriptive steps run. */
export type DescriptiveFlags = Readonly<Record<DescriptiveStep, boolean>>;

/**
 * Fields the descriptive steps read or write. A pseudonymised path that overlaps one of them
 * must be hashed after the steps ran, so that source's steps cannot be deferred.
 */
const DESCRIPTIVE_FIELDS = [
  'context.userAgent',
  'context.page',
  'context.browser',
  'context.os',
  'context.device',
  'context.campaign',
  'context.referrer',
  'properties.url',
  'properties.referrer',
  'properties.search',
];

/** True when hashing `path` would change what the descriptive steps read or wrote. */
export function overlapsDescriptiveFields(path: string): boolean {
  return DESCRIPTIVE_FIELDS.some((f) => path === f || path.startsWith(`${f}.`) || f.startsWith(`${path}.`));
}

/**
 * Runs the enabled descriptive steps on `context`, the caller's own shallow copy of the event's
 * context (see `fields.ts` for the ownership rule).
 */
export function describeInto(event: Fields, context: Fields, steps: DescriptiveFlags): void {
  if (steps.userAgent) enrichUserAgent(context);
  if (steps.pageUrl || steps.campaign || steps.referrer) {
    const page = readPage(event, context);
    if (steps.pageUrl) enrichPageUrl(event, context, page);
    if (steps.campaign) enrichCampaign(event, context, page);
    if (steps.referrer) enrichReferrer(event, context, page);
  }
}

function hasKeys(o: Fields): boolean {
  for (const _ in o) return true;
  return false;
}

// Records of one source carry the same list: its flags are worked out once.
let lastList: readonly unknown[] | undefined;
let lastFlags: DescriptiveFlags | undefined;

function flagsOf(list: readonly unknown[]): DescriptiveFlags {
  if (list === lastList && lastFlags !== undefined) return lastFlags;
  const flags: DescriptiveFlags = {
    userAgent: list.includes('userAgent'),
    pageUrl: list.includes('pageUrl'),
    campaign: list.includes('campaign'),
    referrer: list.includes('referrer'),
  };
  lastList = list;
  lastFlags = flags;
  return flags;
}

/**
 * Runs the descriptive steps a log record lists (its `enrich` field) on the record's event, as a
 * reader of the log decodes it. Unknown step names are ignored; a context that is not an object is
 * left alone, as the collector's enricher leaves it.
 *
 * @example
 * ```ts
 * const event = { type: 'page', context: { userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) ... Chrome/131.0.0.0 Safari/537.36' } };
 * describeEvent(event, ['userAgent']);
 * event.context.browser; // { name: 'Chrome', version: '131.0.0.0' }
 * ```
 */
export function describeEvent(event: Fields, steps: readonly unknown[]): void {
  const own = event.context;
  if (own !== undefined && own !== null && !isPlainObject(own)) return;
  const client = own ?? undefined;
  const context: Fields = client === undefined ? {} : copyFields(client);
  describeInto(event, context, flagsOf(steps));
  if (client !== undefined || hasKeys(context)) event.context = context;
}
