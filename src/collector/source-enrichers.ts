import type { WeirConfig } from '../config/schema.js';
import { createEnricher, openGeoIp, type Enricher, type GeoIpReader } from '../enrich/enricher.js';
import { loadSecret } from '../enrich/privacy/secrets.js';
import type { Source } from '../state/state-store.js';

/**
 * One enricher per source, built from the source's `enrich` settings and rebuilt when they
 * change (the write-key cache refreshes sources in the background).
 *
 * @example
 * ```ts
 * const enrichers = new SourceEnrichers({ salt: loadSecret(dataDir), geoip });
 * const enrich = enrichers.for(source); // pass to processIngest
 * ```
 */
export class SourceEnrichers {
  readonly #built = new Map<string, { settings: object; key: string; enrich: Enricher }>();

  constructor(private readonly opts: { salt: Buffer; geoip?: GeoIpReader }) {}

  for(source: Source): Enricher {
    const settings = source.settings.enrich;
    const hit = this.#built.get(source.id);
    // The same settings object until the source is refreshed: no serialising on every request.
    if (hit !== undefined && hit.settings === settings) return hit.enrich;
    const key = JSON.stringify(settings);
    if (hit !== undefined && hit.key === key) {
      hit.settings = settings;
      return hit.enrich;
    }
    // The descriptive steps run where the log is read, off the acknowledgement path.
    const enrich = createEnricher({ settings, geoip: this.opts.geoip, salt: this.opts.salt, defer: true });
    this.#built.set(source.id, { settings, key, enrich });
    return enrich;
  }
}

/** The enrichers of this installation: its secret and, when configured, its GeoIP database. */
export async function openSourceEnrichers(config: WeirConfig): Promise<SourceEnrichers> {
  const geoip = config.privacy.geoipDatabase === '' ? undefined : await openGeoIp(config.privacy.geoipDatabase);
  return new SourceEnrichers({ salt: loadSecret(config.dataDir), geoip });
}
