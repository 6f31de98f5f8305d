import { getPattern } from 'isbot';
import type { Fields } from './fields.js';
import { LruCache } from './lru.js';

/** Whether a user agent is a bot, crawler or automated client, and which one when known. */
export type BotVerdict = { readonly bot: false } | { readonly bot: true; readonly name?: string };

const HUMAN: BotVerdict = Object.freeze({ bot: false });
const NAMELESS_BOT: BotVerdict = Object.freeze({ bot: true });

// isbot's own pattern, run once per distinct user agent; exec gives where it matched, from
// which the product token is read as the bot's name.
const ISBOT = getPattern();
// Headless and automation browsers, checked here too so they are caught whatever isbot's list
// holds at the installed version.
const HEADLESS = /Headless|PhantomJS|SlimerJS/;

function isTokenChar(c: number): boolean {
  // A product token: letters, digits and - _ . (stops at '/', ' ', ';', '(', ')', ',' and '+').
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x2d || c === 0x5f || c === 0x2e;
}

/** The product token around a match: "Googlebot" for a match of "Google" in "Googlebot/2.1". */
function tokenAt(ua: string, index: number, length: number): string | undefined {
  let start = index;
  while (start > 0 && isTokenChar(ua.charCodeAt(start - 1))) start--;
  let end = index;
  while (end < ua.length && isTokenChar(ua.charCodeAt(end))) end++;
  if (end === start) end = Math.min(ua.length, index + length);
  const name = ua.slice(start, end).trim();
  // A match on punctuation alone ("()" is one of isbot's patterns) names nothing.
  return /[A-Za-z0-9]/.test(name) ? name : undefined;
}

function verdict(ua: string): BotVerdict {
  if (ua.trim() === '') return NAMELESS_BOT;
  const m = HEADLESS.exec(ua) ?? ISBOT.exec(ua);
  if (m === null) return HUMAN;
  const name = tokenAt(ua, m.index, m[0].length);
  return Object.freeze(name === undefined ? { bot: true } : { bot: true, name });
}

const cache = new LruCache<BotVerdict>({ capacity: 1024, maxKeyLength: 1024 });

/**
 * Detects bots and crawlers from a user agent with `isbot`'s pattern, plus headless browsers and
 * an empty user agent (a real browser always sends one). Only a user agent that was sent counts:
 * server-side libraries send none, and their events are not bots. Cached per user agent.
 *
 * @example
 * ```ts
 * detectBot('Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)'); // { bot: true, name: 'Googlebot' }
 * detectBot('curl/8.5.0'); // { bot: true, name: 'curl' }
 * detectBot(''); // { bot: true }
 * ```
 */
export function detectBot(userAgent: string): BotVerdict {
  return cache.get(userAgent, verdict);
}

/** The verdict for an event's `context.userAgent`; not a bot when the event has none. */
export function detectBotInContext(context: Fields | undefined): BotVerdict {
  const ua = context?.userAgent;
  return typeof ua === 'string' ? detectBot(ua) : HUMAN;
}

/**
 * Flags a bot's event: `context.bot = true`, and `context.botName` when known and the client did
 * not send one.
 */
export function flagBot(context: Fields, verdict: BotVerdict): void {
  if (!verdict.bot) return;
  context.bot = true;
  if (verdict.name !== undefined && context.botName === undefined) context.botName = verdict.name;
}
