-- wrk script of bench/load/run.sh: one script for every endpoint, chosen by BENCH_MODE.
--   create    POST /api/v1/verify
--   read      GET  /api/v1/verify/{id}             ids from BENCH_IDS, round robin
--   start     POST /v3/start
--   validate  POST /v3/validate                    each on its own flow, ids from BENCH_IDS
--   verify    POST /api/verify                     body from BENCH_BODY (the probe, base64 JSON)
--   phone     /v3/start, then /v3/validate of the flow it started (the soak's phone traffic)
--   collect   POST BENCH_PATH and write the "sessionId"/"correlationId" of each answer to
--             BENCH_OUT.<thread>, until BENCH_COUNT ids (the pools of read and validate);
--             a thread that has its share stops (run.sh then ends wrk with SIGINT)
-- BENCH_RATE (requests/s of the whole wrk process; 0 or unset: as fast as it can) paces
-- requests on a schedule (a slot every 1/rate s per thread; when every connection was
-- busy, at most the last 200 ms of missed slots are made up, older ones are dropped), so
-- the soak offers a constant load. BENCH_THREADS must equal wrk's -t. BENCH_AUTH is the bearer credential
-- (an API key for the KYC and identity routes, an OAuth token for /v3).
-- done() prints one line "RESULT {json}": requests, seconds, requests/s, latency
-- percentiles (µs), wrk's socket errors and non-2xx/3xx count, and the answers this
-- script judged bad (verify not verified, validate not successful, a phone step failed).
local mode = os.getenv("BENCH_MODE") or "create"
local rate = tonumber(os.getenv("BENCH_RATE") or "0")
local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")

wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_AUTH") or "missing")

local START_BODY = '{"flowType":"mobile","phoneNumber":"2015550101"}'
local CREATE_BODY = '{"externalRef":"load","checks":["liveness"]}'

if mode == "create" then
  wrk.method, wrk.path, wrk.body = "POST", "/api/v1/verify", CREATE_BODY
elseif mode == "start" then
  wrk.method, wrk.path, wrk.body = "POST", "/v3/start", START_BODY
elseif mode == "verify" then
  local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
  wrk.method, wrk.path, wrk.body = "POST", "/api/verify", f:read("*a")
  f:close()
elseif mode == "collect" then
  wrk.method, wrk.path = "POST", os.getenv("BENCH_PATH")
  wrk.body = (wrk.path == "/v3/start") and START_BODY or CREATE_BODY
end

local counter = 1
local threads = {}
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

-- Monotonic milliseconds through LuaJIT's FFI (wrk's Lua has no clock of its own).
local now_ms
do
  local ok, ffi = pcall(require, "ffi")
  if ok then
    pcall(ffi.cdef, "typedef struct { long tv_sec; long tv_nsec; } bench_timespec; int clock_gettime(int, bench_timespec *);")
    local ts = ffi.new("bench_timespec")
    now_ms = function()
      ffi.C.clock_gettime(1, ts)
      return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
    end
  end
end

function init(args)
  bad, exhausted, starts, validates = 0, 0, 0, 0
  local per = math.ceil(tonumber(os.getenv("BENCH_COUNT") or "0") / nthreads)
  want = per
  if mode == "read" or mode == "validate" then
    ids, next_id = {}, 1
    local i = 0
    for line in io.lines(os.getenv("BENCH_IDS")) do
      -- read: every thread walks the whole pool from its own offset; validate: each
      -- thread takes its own stripe (a flow validates once).
      if mode == "read" or i % nthreads == tid - 1 then table.insert(ids, line) end
      i = i + 1
    end
    if mode == "read" then next_id = (tid - 1) * math.floor(#ids / nthreads) + 1 end
  elseif mode == "collect" then
    out = assert(io.open(os.getenv("BENCH_OUT") .. "." .. tid, "w"))
    got = 0
  elseif mode == "phone" then
    queue, qh, qt = {}, 1, 0
  end
  if rate > 0 then
    interval = 1000 / (rate / nthreads)
    slot = nil
  end
end

if rate > 0 then
  function delay()
    local t = now_ms()
    if slot == nil or slot < t - 200 then slot = t - (slot and 200 or 0) end
    local d = slot - t
    slot = slot + interval
    return math.floor(d)
  end
end

function request()
  if mode == "read" then
    local id = ids[next_id]
    next_id = next_id + 1
    if next_id > #ids then next_id = 1 end
    return wrk.format("GET", "/api/v1/verify/" .. id, nil, nil)
  elseif mode == "validate" then
    local id = ids[next_id]
    if id == nil then
      -- Out of prepared flows: stop rather than send flows that already validated.
      exhausted = exhausted + 1
      wrk.thread:stop()
      id = ids[1]
    end
    next_id = next_id + 1
    return wrk.format("POST", "/v3/validate", nil, '{"correlationId":"' .. id .. '"}')
  elseif mode == "phone" then
    if qh <= qt then
      local id = queue[qh]
      queue[qh] = nil
      qh = qh + 1
      return wrk.format("POST", "/v3/validate", nil, '{"correlationId":"' .. id .. '"}')
    end
    return wrk.format("POST", "/v3/start", nil, START_BODY)
  end
  return wrk.request()
end

-- Bodies are only looked at where needed (a response() hook costs wrk time on each answer).
if mode == "verify" then
  function response(status, headers, body)
    if status ~= 200 or not body:find('"verified":true', 1, true) then bad = bad + 1 end
  end
elseif mode == "validate" then
  function response(status, headers, body)
    if status ~= 200 or not body:find('"success":true', 1, true) then bad = bad + 1 end
  end
elseif mode == "phone" then
  function response(status, headers, body)
    local id = body:match('"correlationId":"([^"]+)"')
    if id then
      starts = starts + 1
      qt = qt + 1
      queue[qt] = id
    else
      validates = validates + 1
      if status ~= 200 or not body:find('"success":true', 1, true) then bad = bad + 1 end
    end
  end
elseif mode == "collect" then
  function response(status, headers, body)
    local id = body:match('"sessionId":"([^"]+)"') or body:match('"correlationId":"([^"]+)"')
    if not id then
      bad = bad + 1
      return
    end
    if got < want then
      out:write(id, "\n")
      got = got + 1
      if got == want then
        out:close()
        wrk.thread:stop()
      end
    end
  end
end

function done(summary, latency, requests)
  local b, ex, st, va = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    b = b + (t:get("bad") or 0)
    ex = ex + (t:get("exhausted") or 0)
    st = st + (t:get("starts") or 0)
    va = va + (t:get("validates") or 0)
  end
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    'RESULT {"mode":"%s","requests":%d,"seconds":%.3f,"rps":%.1f,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.0f,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d},' ..
    '"bad":%d,"exhausted":%d,"starts":%d,"validates":%d}\n',
    mode, summary.requests, secs, summary.requests / secs,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    e.connect, e.read, e.write, e.timeout, e.status, b, ex, st, va))
end
