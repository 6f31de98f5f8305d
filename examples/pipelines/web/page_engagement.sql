-- # Engaged time and scroll depth per page and day, from the tracker's Page Ping events. A ping
-- # carries its page view's id, the engaged seconds since the previous ping of that page view
-- # (so they add up) and the deepest scroll so far (0-100, so the page view's is the maximum).
-- # Entrances: the day's sessions that landed on the page (from sessions).
-- materialized: incremental
-- partition: daily
-- partition_by: day
-- trigger: watermark
-- lateness: 30m
-- retries: 2
-- retry_delay: 30s
-- timeout: 10m
-- checks:
--   - not_null: [day, page_path]
--   - unique: [day, page_path]
--   - sql: "select * from {{ this }} where avg_scroll_depth < 0 or avg_scroll_depth > 100"
--     name: scroll_depth_is_a_percentage
--   - sql: "select * from {{ this }} where engaged_seconds < 0 or engaged_views < 1"
--     name: engaged_time_is_positive
with pings as (
  select page_view_id, anonymous_id, context_page_path as page_path, engaged_seconds, max_scroll_depth
  from {{ source('web.page_ping') }}
  where "timestamp" >= {{ start }} and "timestamp" < {{ end }} and page_view_id is not null
),
views as (
  select page_path, page_view_id, max(anonymous_id) as anonymous_id,
    sum(engaged_seconds) as engaged_seconds, max(max_scroll_depth) as scroll_depth
  from pings
  group by page_path, page_view_id
),
entrances as (
  select landing_path as page_path, count(*) as entrances
  from {{ ref('sessions') }}
  where started_at >= {{ start }} and started_at < {{ end }}
  group by landing_path
)
select
  {{ start }} as day,
  v.page_path,
  count(*) as engaged_views,
  count(distinct v.anonymous_id) as visitors,
  sum(v.engaged_seconds) as engaged_seconds,
  avg(v.engaged_seconds) as avg_engaged_seconds,
  avg(v.scroll_depth) as avg_scroll_depth,
  coalesce(max(e.entrances), 0) as entrances
from views v
left join entrances e on e.page_path = v.page_path
group by v.page_path
