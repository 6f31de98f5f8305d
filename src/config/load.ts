import { readFileSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { WeirError } from '../errors/catalogue.js';
import { ConfigSchema, type WeirConfig } from './schema.js';

export type { WeirConfig } from './schema.js';

interface Leaf {
  path: string[];
  env: string;
}

type JsonSchemaNode = { type?: string; properties?: Record<string, JsonSchemaNode> };

function upperSnake(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

/** Every leaf option with the environment variable that sets it. */
function leaves(node: JsonSchemaNode, prefix: string[] = []): Leaf[] {
  if (node.type === 'object' && node.properties) {
    return Object.entries(node.properties).flatMap(([k, child]) => leaves(child, [...prefix, k]));
  }
  return [{ path: prefix, env: `WEIR_${prefix.map(upperSnake).join('_')}` }];
}

const LEAVES = leaves(ConfigSchema as unknown as JsonSchemaNode);

// coerceTypes turns environment strings into the numbers and booleans the schema asks for.
const ajv = new Ajv({ useDefaults: true, coerceTypes: true, allErrors: true, strict: false });
const validate = ajv.compile<WeirConfig>(ConfigSchema);

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
}

function getPath(target: unknown, path: string[]): unknown {
  let node = target;
  for (const key of path) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

function optionName(err: ErrorObject): string {
  const parts = err.instancePath.split('/').filter(Boolean);
  if (err.keyword === 'additionalProperties') parts.push(String(err.params.additionalProperty));
  if (err.keyword === 'required') parts.push(String(err.params.missingProperty));
  return parts.join('.') || '(root)';
}

function describe(errors: ErrorObject[], raw: unknown, sources: Map<string, string>): string {
  // A union of literals fails once per literal: gather them into one "must be one of" line.
  const allowed = new Map<string, unknown[]>();
  for (const err of errors) {
    if (err.keyword !== 'const') continue;
    const option = optionName(err);
    allowed.set(option, [...(allowed.get(option) ?? []), err.params.allowedValue]);
  }
  const seen = new Set<string>();
  const lines: string[] = [];
  for (const err of errors) {
    const option = optionName(err);
    // A union fails once per member; one line per option is enough.
    if (seen.has(option)) continue;
    seen.add(option);
    const from = sources.get(option);
    const value = err.keyword === 'additionalProperties' ? undefined : getPath(raw, option.split('.'));
    const choices = allowed.get(option);
    const what =
      err.keyword === 'additionalProperties'
        ? 'is not a known option'
        : choices
          ? `must be one of ${choices.map((c) => JSON.stringify(c)).join(', ')}`
          : (err.message ?? 'is invalid');
    lines.push(
      `${option}${from ? ` (from ${from})` : ''}${value !== undefined ? ` = ${JSON.stringify(value)}` : ''}: ${what}`,
    );
  }
  return lines.join('; ');
}

function deepFreeze<T>(obj: T): T {
  if (typeof obj === 'object' && obj !== null) {
    for (const v of Object.values(obj)) deepFreeze(v);
    Object.freeze(obj);
  }
  return obj;
}

export interface LoadConfigOptions {
  /** Path of a YAML file; without it `WEIR_CONFIG`, then `./weir.yaml` if present. */
  file?: string;
  /** Environment to read `WEIR_*` overrides from. */
  env?: NodeJS.ProcessEnv;
  /** Values that win over the file and the environment (tests, CLI flags). */
  overrides?: Record<string, unknown>;
  cwd?: string;
}

/**
 * Reads `weir.yaml` and `WEIR_*` variables, validates them once against {@link ConfigSchema},
 * fills defaults and returns a deeply frozen object. A bad value throws `WEIR_CONFIG_INVALID`
 * naming the option, where it came from, and the value.
 *
 * @example
 * ```ts
 * const config = loadConfig({ env: { WEIR_SERVER_PORT: '9090' } });
 * config.server.port; // 9090
 * ```
 */
export function loadConfig(options: LoadConfigOptions = {}): WeirConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const sources = new Map<string, string>();
  let raw: Record<string, unknown> = {};

  const explicit = options.file ?? env.WEIR_CONFIG;
  const file = explicit ? resolve(cwd, explicit) : resolve(cwd, 'weir.yaml');
  if (explicit || existsSync(file)) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new WeirError('WEIR_CONFIG_FILE_UNREADABLE', { path: file, detail: (err as Error).message });
    }
    let parsed: unknown;
    try {
      parsed = parseYaml(text);
    } catch (err) {
      throw new WeirError('WEIR_CONFIG_FILE_UNREADABLE', { path: file, detail: (err as Error).message });
    }
    if (parsed !== null && parsed !== undefined) {
      if (typeof parsed !== 'object' || Array.isArray(parsed)) {
        throw new WeirError('WEIR_CONFIG_INVALID', { detail: `${file} must hold a mapping of options` });
      }
      raw = parsed as Record<string, unknown>;
    }
    for (const leaf of LEAVES) {
      if (getPath(raw, leaf.path) !== undefined) sources.set(leaf.path.join('.'), file);
    }
  }

  for (const leaf of LEAVES) {
    const v = env[leaf.env];
    if (v !== undefined && v !== '') {
      setPath(raw, leaf.path, v);
      sources.set(leaf.path.join('.'), leaf.env);
    }
  }
  for (const [key, v] of Object.entries(options.overrides ?? {})) {
    setPath(raw, key.split('.'), v);
    sources.set(key, 'override');
  }

  const candidate = structuredClone(raw);
  if (!validate(candidate)) {
    throw new WeirError('WEIR_CONFIG_INVALID', { detail: describe(validate.errors ?? [], raw, sources) });
  }
  const config = candidate as WeirConfig;
  config.dataDir = resolve(cwd, config.dataDir);
  return deepFreeze(config);
}

/** The environment variable that sets an option, e.g. `server.port` → `WEIR_SERVER_PORT`. */
export function envNameOf(option: string): string | undefined {
  return LEAVES.find((l) => l.path.join('.') === option)?.env;
}

/**
 * Every environment variable that sets an option, in schema order; deployment files are checked
 * against it, so a misspelt `WEIR_*` name is caught before it is silently ignored.
 *
 * @example
 * ```ts
 * optionEnvNames().includes('WEIR_LOG_BACKEND'); // true
 * ```
 */
export function optionEnvNames(): string[] {
  return LEAVES.map((l) => l.env);
}
