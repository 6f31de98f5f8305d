-- # Sessions: a visitor's pages and events with no gap of more than 30 minutes. A session is
-- # also cut at midnight UTC (as Google Analytics does), so each day's sessions depend on that
-- # day's events only and a day can be rebuilt on its own. Page Ping events count as activity.
-- materialized: incremental
-- partition: daily
-- partition_by: started_at
-- trigger: watermark
-- lateness: 30m
-- retries: 2
-- retry_delay: 30s
-- timeout: 10m
-- checks:
--   - not_null: [session_id, anonymous_id, started_at]
--   - unique: session_id
--   - row_count: {min: 1}
--     severity: warn
--   - sql: "select * from {{ this }} where ended_at < started_at or duration_s < 0 or events < 1"
with events as (
  select anonymous_id, "timestamp" as event_at, context_page_path as path, 1 as is_page
  from {{ source('web.pages') }}
  where "timestamp" >= {{ start }} and "timestamp" < {{ end }} and anonymous_id is not null
  union all
  select anonymous_id, "timestamp" as event_at, context_page_path as path, 0 as is_page
  from {{ source('web.tracks') }}
  where "timestamp" >= {{ start }} and "timestamp" < {{ end }} and anonymous_id is not null
),
marked as (
  select *,
    case when event_at - lag(event_at) over (partition by anonymous_id order by event_at, is_page desc) <= interval '30 minutes' then 0 else 1 end as is_start
  from events
),
numbered as (
  select *,
    sum(is_start) over (partition by anonymous_id order by event_at, is_page desc rows between unbounded preceding and current row) as n
  from marked
)
select
  anonymous_id || '-' || cast(cast(floor(extract(epoch from min(event_at))) as bigint) as varchar) as session_id,
  anonymous_id,
  min(event_at) as started_at,
  max(event_at) as ended_at,
  cast(extract(epoch from max(event_at) - min(event_at)) as double precision) as duration_s,
  sum(is_page) as page_views,
  count(*) as events,
  (array_agg(path order by event_at) filter (where is_page = 1))[1] as landing_path
from numbered
group by anonymous_id, n
