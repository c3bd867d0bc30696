-- wrk script for bench/phone/run.sh: POST /v3/validate, each request on a different
-- flow (a flow validates once). run.sh creates the flows first and writes their
-- correlation ids, one a line, to BENCH_IDS; each wrk thread takes its own stripe.
wrk.method = "POST"
wrk.path = "/v3/validate"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_TOKEN") or "missing")

local counter = 1
local threads = {}

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  ids = {}
  local n = tonumber(os.getenv("BENCH_THREADS") or "2")
  local i = 0
  for line in io.lines(os.getenv("BENCH_IDS")) do
    if i % n == tid - 1 then
      table.insert(ids, line)
    end
    i = i + 1
  end
  next_id = 1
  exhausted = 0
end

function request()
  local id = ids[next_id]
  if id == nil then
    -- Out of flows: the duration was longer than the prepared flows last.
    exhausted = exhausted + 1
    id = ids[1]
  end
  next_id = next_id + 1
  return wrk.format(nil, nil, nil, '{"correlationId":"' .. id .. '"}')
end

done = function(summary, latency, requests)
  io.write(string.format("p50_us %d\np90_us %d\np99_us %d\n",
    latency:percentile(50), latency:percentile(90), latency:percentile(99)))
  for _, t in ipairs(threads) do
    io.write(string.format("exhausted %d\n", t:get("exhausted") or 0))
  end
end
