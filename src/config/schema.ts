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
        rateLimitEventsPerSecond: Type.Integer({
          default: 0,
          minimum: 0,
          description: 'events per second each write key may send to the whole server (429 above it); 0: no limit; a source setting overrides it',
        }),
        rateLimitBurst: Type.Integer({
          default: 0,
          minimum: 0,
          description: 'events a write key may send at once above its rate; 0: one second of the rate',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    log: Type.Object(
      {
        segmentBytes: Type.Integer({ default: 64 * 1024 * 1024, minimum: 4096 }),
        retentionHours: Type.Number({ default: 168, minimum: 0, description: 'keep segments at least this long' }),
        retentionCheckMs: Type.Integer({ default: 60000, minimum: 100 }),
        backlogBudgetBytes: Type.Integer({
          default: 2 * 1024 * 1024 * 1024,
          minimum: 0,
          description:
            'bytes of the log not yet read by every sink (a sink that is down) before ingest answers 503 with Retry-After instead of filling the disk; 0: no budget',
        }),
        maxPartitions: Type.Integer({
          default: 64,
          minimum: 1,
          maximum: 4096,
          description:
            'partitions `weir collector` workers may claim: each takes the lowest one no live writer holds, so collectors on several hosts never share one',
        }),
        backend: Type.Union(['file', 'nats'].map((l) => Type.Literal(l)), {
          default: 'file',
          description: 'file: segment files under <dataDir>/log (one host); nats: NATS JetStream streams shared by every process',
        }),
        nats: Type.Object(
          {
            servers: Type.String({ default: '127.0.0.1:4222', minLength: 1, description: 'comma-separated NATS server URLs' }),
            stream: Type.String({
              default: 'WEIR',
              pattern: '^[A-Za-z0-9_-]{1,100}$',
              description: 'stream name prefix: partition n of the events log is <stream>_EVENTS_P<n>',
            }),
            subjectPrefix: Type.String({
              default: 'weir',
              pattern: '^[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]+)*$',
              description: 'subject prefix: partition n of the events log is <subjectPrefix>.events.p<n>',
            }),
            replicas: Type.Integer({ default: 1, minimum: 1, maximum: 5, description: 'replicas of each stream the log creates (3 on a cluster)' }),
            duplicateWindowMs: Type.Integer({
              default: 120000,
              minimum: 1000,
              description: 'a record whose source and messageId JetStream stored this recently is not stored again',
            }),
            publishTimeoutMs: Type.Integer({ default: 5000, minimum: 100, description: 'how long an append waits for JetStream to acknowledge' }),
            writerLeaseMs: Type.Integer({
              default: 15000,
              minimum: 1000,
              description: 'how long the partition of a crashed collector stays locked',
            }),
          },
          { default: {}, additionalProperties: false },
        ),
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
    state: Type.Object(
      {
        backend: Type.Union(['sqlite', 'postgres'].map((l) => Type.Literal(l)), {
          default: 'sqlite',
          description: 'where the metadata lives: sqlite is <dataDir>/weir.sqlite; postgres is state.postgresUrl, shared by processes on several hosts',
        }),
        postgresUrl: Type.String({ default: '', description: 'postgres://user:password@host:5432/database, required for state.backend postgres' }),
        postgresSchema: Type.String({ default: '', description: 'schema of the metadata tables (created if missing); empty: the role\'s search path' }),
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
    ui: Type.Object(
      {
        sessionTtlMs: Type.Integer({
          default: 7 * 24 * 3_600_000,
          minimum: 60_000,
          description: 'how long a web UI session lasts without use; each use renews it',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    realtime: Type.Object(
      {
        enabled: Type.Boolean({ default: true, description: 'run the real-time aggregator and serve /api/live and /api/events/tail' }),
        visitorWindowMs: Type.Integer({ default: 35000, minimum: 1000, description: 'a visitor seen within this long is current (the tracker pings every 15 s)' }),
        engagedWindowMs: Type.Integer({ default: 20000, minimum: 1000, description: 'a current visitor engaged within this long is engaged, else idle' }),
        maxVisitors: Type.Integer({ default: 20000, minimum: 1, description: 'visitors kept per source; the least recently seen are evicted' }),
        tailSize: Type.Integer({ default: 200, minimum: 1, maximum: 10000, description: 'recent events kept per source for the live tail' }),
        pollMs: Type.Integer({ default: 100, minimum: 10, maximum: 1000, description: 'how often collector workers ask for changes while live clients are connected' }),
        store: Type.Union([Type.Literal('memory'), Type.Literal('redis')], {
          default: 'memory',
          description: 'memory: in the sinks process, refilled from the log on start; redis: shared by every process reaching it, kept across restarts',
        }),
        redisUrl: Type.String({ default: 'redis://127.0.0.1:6379', description: 'for store redis: redis://[:password@]host:port[/db], or rediss:// for TLS' }),
        redisKeyPrefix: Type.String({ default: 'weir:rt:', description: 'for store redis: put in front of every key, so installations can share one Redis' }),
      },
      { default: {}, additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

/** The validated, defaulted and frozen configuration. */
export type WeirConfig = Static<typeof ConfigSchema>;
