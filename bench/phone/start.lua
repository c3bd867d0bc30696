-- wrk script for bench/phone/run.sh: POST /v3/start (a mobile Pre-Fill flow for the
-- sandbox number 2015550101) with the OAuth bearer token from BENCH_TOKEN. The same
-- script drives the bare baseline with BENCH_PATH=/api/v1/verify.
wrk.method = "POST"
wrk.path = os.getenv("BENCH_PATH") or "/v3/start"
wrk.body = '{"flowType":"mobile","phoneNumber":"2015550101"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_TOKEN") or "missing")

done = function(summary, latency, requests)
  io.write(string.format("p50_us %d\np90_us %d\np99_us %d\n",
    latency:percentile(50), latency:percentile(90), latency:percentile(99)))
end
