import { Type, type Static } from '@sinclair/typebox';

/**
 * The one configuration schema. Every option has a default, so an empty configuration is a
 * working embedded setup. Each option can be set in `weir.yaml` or through an environment
 * variable named from its path: `server.port` is `WEIR_SERVER_PORT`, `limits.maxEventBytes` is
 * `WEIR_LIMITS_MAX_EVENT_BYTES`.
 */
export const ConfigSchema = Type.Object(
  {
    dataDir: Type.String({ default: '.weir', minLength: 1, description: 'where the metadata, log and lake live' }),
    server: Type.Object(
      {
        host: Type.String({ default: '0.0.0.0', minLength: 1 }),
        port: Type.Integer({ default: 8080, minimum: 0, maximum: 65535 }),
        workers: Type.Integer({
          default: 0,
          minimum: 0,
          maximum: 256,
          description: 'collector worker processes; 0 means one per core',
        }),
        keepClientIp: Type.Boolean({ default: false, description: 'store the client ip with each event' }),
        trustProxy: Type.String({
          default: '',
          description: 'comma-separated proxy addresses or CIDRs whose X-Forwarded-For is believed; "true" trusts any',
        }),
        drainTimeoutMs: Type.Integer({ default: 10000, minimum: 0 }),
        corsOrigins: Type.String({ default: '*', description: 'allowed browser origins for ingest, comma-separated' }),
      },
      { default: {}, additionalProperties: false },
    ),
    limits: Type.Object(
      {
        maxEventBytes: Type.Integer({ default: 32 * 1024, minimum: 256 }),
        maxBatchBytes: Type.Integer({ default: 500 * 1024, minimum: 1024 }),
        maxBatchItems: Type.Integer({ default: 2500, minimum: 1 }),
        maxDepth: Type.Integer({ default: 32, minimum: 2, maximum: 1000 }),
        maxProperties: Type.Integer({ default: 2000, minimum: 1, description: 'keys in one event, all levels counted' }),
        quotaRefreshMs: Type.Integer({
          default: 5000,
          minimum: 100,
          description: 'how often collectors read monthly event quotas and metered counts again',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    log: Type.Object(
      {
        segmentBytes: Type.Integer({ default: 64 * 1024 * 1024, minimum: 4096 }),
        retentionHours: Type.Number({ default: 168, minimum: 0, description: 'keep segments at least this long' }),
        retentionCheckMs: Type.Integer({ default: 60000, minimum: 100 }),
      },
      { default: {}, additionalProperties: false },
    ),
    warehouse: Type.Object(
      {
        engine: Type.Union(
          ['duckdb', 'postgres', 'clickhouse', 'none'].map((l) => Type.Literal(l)),
          { default: 'duckdb', description: 'where events are loaded; duckdb is a file under dataDir' },
        ),
        url: Type.String({ default: '', description: 'postgres://… or http://host:8123 for the server engines' }),
        batchMaxRecords: Type.Integer({ default: 10000, minimum: 1 }),
        batchMaxWaitMs: Type.Integer({ default: 1000, minimum: 10, description: 'how long a micro-batch waits to fill' }),
        queryTimeoutMs: Type.Integer({ default: 30000, minimum: 100 }),
        queryMaxRows: Type.Integer({ default: 10000, minimum: 1 }),
      },
      { default: {}, additionalProperties: false },
    ),
    lake: Type.Object(
      {
        enabled: Type.Boolean({ default: true, description: 'write raw events as Parquet into the lake' }),
        storage: Type.Union(['fs', 's3', 'azure'].map((l) => Type.Literal(l)), {
          default: 'fs',
          description: 'fs: a directory (lake.dir); s3: any S3-compatible store; azure: Azure Blob',
        }),
        dir: Type.String({ default: '', description: 'the lake directory for storage fs; default <dataDir>/lake' }),
        prefix: Type.String({ default: '', description: 'key prefix inside the bucket or container' }),
        s3Bucket: Type.String({ default: '' }),
        s3Region: Type.String({ default: 'us-east-1' }),
        s3Endpoint: Type.String({ default: '', description: 'for MinIO, Ceph, R2: e.g. http://127.0.0.1:9000' }),
        s3ForcePathStyle: Type.Boolean({ default: false, description: 'bucket in the path, as MinIO and Ceph need' }),
        s3AccessKeyId: Type.String({ default: '' }),
        s3SecretAccessKey: Type.String({ default: '' }),
        azureConnectionString: Type.String({ default: '' }),
        azureContainer: Type.String({ default: '' }),
        maxFileBytes: Type.Integer({ default: 64 * 1024 * 1024, minimum: 1024, description: 'cut a Parquet file at about this size' }),
        maxFileAgeMs: Type.Integer({ default: 5 * 60_000, minimum: 100, description: 'cut a Parquet file after it has been open this long' }),
        retentionCheckMs: Type.Integer({ default: 3_600_000, minimum: 100, description: 'how often hot and cold retention run' }),
      },
      { default: {}, additionalProperties: false },
    ),
    privacy: Type.Object(
      {
        geoipDatabase: Type.String({
          default: '',
          description: 'a MaxMind-format City or Country database (.mmdb) for context.location; empty: no GeoIP',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    pipelines: Type.Object(
      {
        dir: Type.String({ default: 'pipelines', minLength: 1, description: 'the folder of SQL models and shell steps' }),
        schema: Type.String({ default: 'analytics', minLength: 1, description: 'warehouse schema models are built in unless their header names one' }),
        sourceSchema: Type.String({ default: 'default', minLength: 1, description: "schema of source('table') without a schema: the default source's" }),
        concurrency: Type.Integer({ default: 4, minimum: 1, maximum: 256, description: 'tasks one worker runs at once' }),
        leaseMs: Type.Integer({ default: 30000, minimum: 1000, description: 'how long a claimed task stays claimed without its worker renewing it' }),
      },
      { default: {}, additionalProperties: false },
    ),
    sinks: Type.Object(
      {
        nice: Type.Integer({
          default: 10,
          minimum: 0,
          maximum: 19,
          description: 'OS priority of the sinks process (loader, failed events): behind the collectors, so a busy sink never slows acknowledgements',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    logging: Type.Object(
      {
        level: Type.Union(
          ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
          { default: 'info' },
        ),
      },
      { default: {}, additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

/** The validated, defaulted and frozen configuration. */
export type WeirConfig = Static<typeof ConfigSchema>;
