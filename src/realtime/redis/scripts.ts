/**
 * The Lua scripts of the Redis RealtimeStore. Each runs atomically, so any number of aggregators
 * may write and any number of UI nodes read one source at once. Per source (every key of a source
 * carries the hash tag `{sourceId}`, so a script's keys share one cluster slot):
 *
 * - `seen`: sorted set of visitor ids by last-seen time (ms), for the window and eviction;
 * - `vis`: hash of visitor id to the JSON of their current page view (`e` last engaged, `pa` the
 *   `at` of the hit that set the page fields, `pv`, `p`, `t`, `u`, `r`, `rt`, `es`, `sd`);
 * - `min`: hash of per-minute counters, `<minute>` events and `<minute>:s` engaged seconds, and
 *   `top`, the newest minute; minutes that leave the series are deleted;
 * - `tail`: list of tail events as JSON, newest first, trimmed to `tailSize`; `seq`: the
 *   sequence number of the newest; `ver`: the version.
 *
 * Keys expire after a silence (`PEXPIRE` on each write, in the server's time: TTLs only free
 * memory, the windows themselves use the times passed in).
 */

/**
 * KEYS: seen, vis, min, tail, seq, ver.
 * ARGV: maxVisitors, tailSize, minutes, visitorWindowMs, visitorTtlMs, minuteTtlMs, tailTtlMs,
 * staleMs, then per hit its JSON (a LiveHit without `tail` and `sourceId`) and its tail JSON.
 */
export const RECORD_SCRIPT = `
local seen, vis, mins, tail, seq, ver = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local maxVisitors, tailSize, nMinutes = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local window, visitorTtl, minuteTtl, tailTtl, stale = tonumber(ARGV[4]), ARGV[5], ARGV[6], ARGV[7], tonumber(ARGV[8])
local count = (#ARGV - 8) / 2
if count < 1 then return 0 end
local null = cjson.null
local function opt(x) if x == null then return nil end return x end
local function num(x) return string.format('%.17g', x) end

local hits = {}
local newest = nil
for i = 1, count do
  local h = cjson.decode(ARGV[7 + 2 * i])
  hits[i] = h
  if newest == nil or h.at > newest then newest = h.at end
end

-- A version key that expired starts again from a time, not from 0: a poller still holding the
-- old number compares for equality only and must not meet it again.
if redis.call('EXISTS', ver) == 0 then redis.call('SET', ver, string.format('%.0f', hits[1].at)) end
redis.call('INCRBY', ver, count)
redis.call('INCRBY', seq, count)
if tailSize > 0 then
  for i = 1, count do redis.call('LPUSH', tail, ARGV[8 + 2 * i]) end
  redis.call('LTRIM', tail, 0, tailSize - 1)
end

local top = tonumber(redis.call('HGET', mins, 'top'))
local function countMinute(h)
  local m = math.floor(h.at / 60000)
  if top == nil or m > top then
    if top ~= nil then
      for x = top - nMinutes + 1, math.min(top, m - nMinutes) do redis.call('HDEL', mins, num(x), num(x) .. ':s') end
    end
    top = m
    redis.call('HSET', mins, 'top', num(m))
  end
  -- Older than the whole series: it would never be shown.
  if m <= top - nMinutes then return end
  redis.call('HINCRBY', mins, num(m), 1)
  local es = tonumber(h.engagedSeconds) or 0
  if es ~= 0 then redis.call('HINCRBYFLOAT', mins, num(m) .. ':s', num(es)) end
end

local function forget(id)
  redis.call('ZREM', seen, id)
  redis.call('HDEL', vis, id)
end

for i = 1, count do
  local h = hits[i]
  countMinute(h)
  local id = h.visitorId
  local lastSeen = tonumber(redis.call('ZSCORE', seen, id))
  -- A visitor whose last hit is out of the window of this one is no longer current: as in memory
  -- when a snapshot has dropped them meanwhile, a new hit starts them afresh.
  local current = lastSeen ~= nil and lastSeen >= h.at - window
  if h.kind == 'other' then
    if current then redis.call('ZADD', seen, 'GT', num(h.at), id) end
  elseif h.kind == 'leave' then
    if lastSeen ~= nil then
      local raw = redis.call('HGET', vis, id)
      local v = raw and cjson.decode(raw) or {}
      local pv = opt(h.pageViewId)
      if (v.pv == nil or v.pv == pv) and (v.pa == nil or h.at >= v.pa) then forget(id) end
    end
  else
    local raw = current and redis.call('HGET', vis, id)
    local v = raw and cjson.decode(raw) or {}
    local engagedSeconds = tonumber(h.engagedSeconds) or 0
    if h.kind == 'page' or engagedSeconds > 0 then v.e = math.max(v.e or h.at, h.at) end
    if v.pa == nil or h.at >= v.pa then
      local pv = opt(h.pageViewId)
      local samePage = pv ~= nil and pv == v.pv
      v.pa = h.at
      v.pv = pv
      if opt(h.path) ~= nil then v.p = h.path end
      if opt(h.title) ~= nil then v.t = h.title end
      if opt(h.url) ~= nil then v.u = h.url end
      if opt(h.referrer) ~= nil then v.r = h.referrer end
      local rt = opt(h.returning)
      if rt ~= nil or not samePage then v.rt = rt end
      if not samePage then v.es = 0; v.sd = 0 end
      local te, sd = opt(h.totalEngagedSeconds), opt(h.scrollDepth)
      if te ~= nil then v.es = math.max(v.es or 0, te) end
      if sd ~= nil then v.sd = math.max(v.sd or 0, sd) end
    end
    redis.call('HSET', vis, id, cjson.encode(v))
    if current then
      redis.call('ZADD', seen, 'GT', num(h.at), id)
    else
      redis.call('ZADD', seen, num(h.at), id)
      local over = redis.call('ZCARD', seen) - maxVisitors
      if over > 0 then
        local popped = redis.call('ZPOPMIN', seen, over)
        for j = 1, #popped, 2 do redis.call('HDEL', vis, popped[j]) end
      end
    end
  end
end

-- Visitors long out of every window no snapshot can ask for: free them without waiting for
-- eviction. A margin beyond the window keeps a collector clock a little ahead from dropping
-- current visitors.
local old = redis.call('ZRANGEBYSCORE', seen, '-inf', '(' .. num(newest - window - stale), 'LIMIT', 0, 500)
for j = 1, #old do forget(old[j]) end

redis.call('PEXPIRE', seen, visitorTtl)
redis.call('PEXPIRE', vis, visitorTtl)
redis.call('PEXPIRE', mins, minuteTtl)
redis.call('PEXPIRE', tail, tailTtl)
redis.call('PEXPIRE', seq, tailTtl)
redis.call('PEXPIRE', ver, tailTtl)
return count
`;

/**
 * KEYS: seen, vis, min, ver.
 * ARGV: now, visitorWindowMs, engagedWindowMs, minutes, then the scroll buckets' upper bounds.
 * Returns { version, total, engaged, engagedSecondsSum, {referrer, n, ...}, {new, returning,
 * unknown}, {scroll counts}, {{path, title, url, visitors, engaged}, ...}, {events, engaged
 * seconds of each minute, oldest first} }; fractional numbers as strings (Redis truncates Lua
 * numbers to integers).
 */
export const SNAPSHOT_SCRIPT = `
local seen, vis, mins, ver = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now, window, engagedWindow, nMinutes = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local buckets = {}
for i = 5, #ARGV do buckets[#buckets + 1] = tonumber(ARGV[i]) end
local function num(x) return string.format('%.17g', x) end
local null = cjson.null

local ids = redis.call('ZRANGEBYSCORE', seen, num(now - window), '+inf')
local engagedSince = now - engagedWindow
local total, engaged, engagedSeconds = 0, 0, 0
local referrers, referrerOrder = {}, {}
local audience = { 0, 0, 0 }
local scroll = {}
for i = 1, #buckets do scroll[i] = 0 end
local pages, pageOrder = {}, {}

for from = 1, #ids, 500 do
  local chunk = {}
  for i = from, math.min(from + 499, #ids) do chunk[#chunk + 1] = ids[i] end
  local states = redis.call('HMGET', vis, unpack(chunk))
  for i = 1, #chunk do
    local raw = states[i]
    if raw then
      local v = cjson.decode(raw)
      local rt = v.rt
      if rt == null then rt = nil end
      total = total + 1
      local isEngaged = v.e ~= nil and v.e >= engagedSince
      if isEngaged then engaged = engaged + 1 end
      local r = v.r or 'direct'
      if referrers[r] == nil then referrers[r] = 0; referrerOrder[#referrerOrder + 1] = r end
      referrers[r] = referrers[r] + 1
      if rt == nil then audience[3] = audience[3] + 1 elseif rt then audience[2] = audience[2] + 1 else audience[1] = audience[1] + 1 end
      engagedSeconds = engagedSeconds + (v.es or 0)
      local sd = v.sd or 0
      for b = 1, #buckets do
        if sd < buckets[b] or b == #buckets then scroll[b] = scroll[b] + 1; break end
      end
      local path = v.p or ''
      local page = pages[path]
      local pa = v.pa or -math.huge
      if page == nil then
        page = { t = v.t or '', u = v.u or '', at = pa, n = 0, e = 0 }
        pages[path] = page
        pageOrder[#pageOrder + 1] = path
      elseif pa > page.at then
        page.t = v.t or ''; page.u = v.u or ''; page.at = pa
      end
      page.n = page.n + 1
      if isEngaged then page.e = page.e + 1 end
    end
  end
end

local referrerList = {}
for _, r in ipairs(referrerOrder) do referrerList[#referrerList + 1] = r; referrerList[#referrerList + 1] = referrers[r] end
local pageList = {}
for _, path in ipairs(pageOrder) do
  local p = pages[path]
  pageList[#pageList + 1] = { path, p.t, p.u, p.n, p.e }
end
local current = math.floor(now / 60000)
local fields = {}
for i = nMinutes - 1, 0, -1 do
  fields[#fields + 1] = num(current - i)
  fields[#fields + 1] = num(current - i) .. ':s'
end
local minuteList = {}
if #fields > 0 then
  local values = redis.call('HMGET', mins, unpack(fields))
  for i = 1, #values do minuteList[i] = values[i] or '0' end
end
return { redis.call('GET', ver) or '0', total, engaged, num(engagedSeconds), referrerList, audience, scroll, pageList, minuteList }
`;

/**
 * KEYS: seq, tail. ARGV: after ('' when absent).
 * Returns { cursor, events newest first }.
 */
export const TAIL_SCRIPT = `
local cursor = tonumber(redis.call('GET', KEYS[1]) or '0')
local kept = math.min(redis.call('LLEN', KEYS[2]), cursor)
local n = kept
local after = tonumber(ARGV[1])
if after ~= nil and after <= cursor then n = math.min(kept, cursor - after) end
if n <= 0 then return { cursor, {} } end
return { cursor, redis.call('LRANGE', KEYS[2], 0, n - 1) }
`;
