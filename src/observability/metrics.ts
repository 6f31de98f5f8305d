import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** What a process does, which decides the metrics it exposes. */
export type MetricsRole = 'collector' | 'sinks' | 'supervisor';

/**
 * The metrics of one process, in its own registry, holding only the metrics of its role (plus
 * the process metrics, for collectors): in `weir up` the supervisor merges the collectors'
 * registries (prom-client's cluster aggregation) and appends the sinks process's text and its
 * own (role `supervisor`: restarts), and a family must not appear in two of them.
 *
 * @example
 * ```ts
 * const m = createMetrics({ role: 'collector' });
 * m.ingestEvents.inc({ outcome: 'accepted' }, 20);
 * await m.registry.metrics(); // Prometheus text
 * ```
 */
export function createMetrics(options: { role?: MetricsRole; defaultMetrics?: boolean } = {}) {
  const role = options.role ?? 'collector';
  const registry = new Registry();
  if (options.defaultMetrics ?? role === 'collector') collectDefaultMetrics({ register: registry, prefix: 'weir_' });
  const registers = role === 'collector' ? [registry] : [];
  const sinkRegisters = role === 'sinks' ? [registry] : [];
  const supervisorRegisters = role === 'supervisor' ? [registry] : [];
  return {
    registry,
    ingestRequests: new Counter({
      name: 'weir_ingest_requests_total',
      help: 'Ingest HTTP requests by endpoint and answer status',
      labelNames: ['endpoint', 'status'] as const,
      registers,
    }),
    ingestErrors: new Counter({
      name: 'weir_ingest_errors_total',
      help: 'Ingest requests refused, by error code',
      labelNames: ['code'] as const,
      registers,
    }),
    ingestEvents: new Counter({
      name: 'weir_ingest_events_total',
      help: 'Events received, by outcome: accepted (in the log) or failed (kept as failed events)',
      labelNames: ['outcome'] as const,
      registers,
    }),
    failedEvents: new Counter({
      name: 'weir_failed_events_total',
      help: 'Events kept as failed events, by reason code',
      labelNames: ['reason'] as const,
      registers,
    }),
    ingestBytes: new Counter({
      name: 'weir_ingest_bytes_total',
      help: 'Request body bytes received on ingest endpoints (as sent, before decompression)',
      registers,
    }),
    ackLatency: new Histogram({
      name: 'weir_ingest_ack_seconds',
      help: 'Time from request start to a durable acknowledgement',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    fsyncLatency: new Histogram({
      name: 'weir_log_fsync_seconds',
      help: 'Duration of event log fdatasync calls',
      buckets: [0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1],
      registers,
    }),
    writeLatency: new Histogram({
      name: 'weir_log_write_seconds',
      help: 'Duration of event log writes (before their fdatasync)',
      buckets: [0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1],
      registers,
    }),
    logBytes: new Gauge({
      name: 'weir_log_bytes',
      help: 'Bytes held by the event log, per partition',
      labelNames: ['partition'] as const,
      registers,
    }),
    logSegments: new Gauge({
      name: 'weir_log_segments',
      help: 'Segment files held by the event log, per partition',
      labelNames: ['partition'] as const,
      registers,
    }),
    // Every collector measures the whole log, so the cluster merge keeps one value, not their sum.
    backlogBytes: new Gauge({
      name: 'weir_log_backlog_bytes',
      help: 'Bytes of the event log (both streams) not yet read by every sink, at the last measurement',
      aggregator: 'max',
      registers,
    }),
    backlogBudgetBytes: new Gauge({
      name: 'weir_log_backlog_budget_bytes',
      help: 'log.backlogBudgetBytes: over it, ingest answers 503 WEIR_INGEST_BACKLOG_FULL (0: no budget)',
      aggregator: 'max',
      registers,
    }),
    logCorrupt: new Counter({
      name: 'weir_log_corrupt_records_total',
      help: 'Corrupt log regions found and quarantined or skipped',
      labelNames: ['partition'] as const,
      registers,
    }),
    warehouseRows: new Counter({
      name: 'weir_warehouse_rows_total',
      help: 'Rows written to the warehouse (idempotent writes count every attempt)',
      registers: sinkRegisters,
    }),
    warehouseDiscards: new Counter({
      name: 'weir_warehouse_discards_total',
      help: 'Values sent to weir_discards because they did not fit their column',
      registers: sinkRegisters,
    }),
    warehouseBatch: new Histogram({
      name: 'weir_warehouse_batch_seconds',
      help: 'Time to load one micro-batch into the warehouse',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: sinkRegisters,
    }),
    warehouseErrors: new Counter({
      name: 'weir_warehouse_errors_total',
      help: 'Failed warehouse loads (the batch is retried), by error code',
      labelNames: ['code'] as const,
      registers: sinkRegisters,
    }),
    lakeFiles: new Counter({ name: 'weir_lake_files_total', help: 'Parquet files stored in the lake', registers: sinkRegisters }),
    lakeBytes: new Counter({ name: 'weir_lake_bytes_total', help: 'Bytes of Parquet stored in the lake', registers: sinkRegisters }),
    lakeEvents: new Counter({ name: 'weir_lake_events_total', help: 'Events stored in the lake', registers: sinkRegisters }),
    lakeErrors: new Counter({
      name: 'weir_lake_errors_total',
      help: 'Failed lake writes or uploads (retried), by error code',
      labelNames: ['code'] as const,
      registers: sinkRegisters,
    }),
    consumerLag: new Gauge({
      name: 'weir_consumer_lag_records',
      help: 'Records a consumer group is behind the durable head',
      labelNames: ['group'] as const,
      registers: sinkRegisters,
    }),
    pipelineAttempts: new Counter({
      name: 'weir_pipeline_task_attempts_total',
      help: 'Pipeline task attempts recorded, by outcome (succeeded, failed, retrying, check_failed, cancelled)',
      labelNames: ['outcome'] as const,
      registers: sinkRegisters,
    }),
    pipelineTaskSeconds: new Histogram({
      name: 'weir_pipeline_task_seconds',
      help: 'Duration of pipeline task attempts, by outcome',
      labelNames: ['outcome'] as const,
      buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600],
      registers: sinkRegisters,
    }),
    pipelineTasksRunning: new Gauge({
      name: 'weir_pipeline_tasks_running',
      help: 'Pipeline tasks this worker is running now',
      registers: sinkRegisters,
    }),
    pipelineRunsTriggered: new Counter({
      name: 'weir_pipeline_runs_triggered_total',
      help: 'Pipeline runs created by a trigger, by trigger (schedule, watermark)',
      labelNames: ['trigger'] as const,
      registers: sinkRegisters,
    }),
    processRestarts: new Counter({
      name: 'weir_process_restarts_total',
      help: 'Child processes the supervisor started again after they died, by process kind (collector, sinks)',
      labelNames: ['process'] as const,
      registers: supervisorRegisters,
    }),
    realtimeEvents: new Counter({
      name: 'weir_realtime_events_total',
      help: 'Events the real-time aggregator recorded into the live windows',
      registers: sinkRegisters,
    }),
    realtimeSkipped: new Counter({
      name: 'weir_realtime_skipped_total',
      help: 'Log records the real-time aggregator skipped (received over 30 minutes ago, or unreadable)',
      registers: sinkRegisters,
    }),
    realtimeDelay: new Gauge({
      name: 'weir_realtime_delay_seconds',
      help: 'Age of the newest event the real-time aggregator recorded, at the time it did (receivedAt to aggregated)',
      registers: sinkRegisters,
    }),
    liveSnapshotLatency: new Histogram({
      name: 'weir_live_snapshot_seconds',
      help: 'Time a collector takes to get a live snapshot (or its unchanged version) from the real-time store',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    }),
    liveClients: new Gauge({
      name: 'weir_live_clients',
      help: 'Open Server-Sent Event streams, by stream (live, tail)',
      labelNames: ['stream'] as const,
      registers,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
