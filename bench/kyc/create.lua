-- wrk script for bench/kyc/run.sh: POST /api/v1/verify with the bearer key from BENCH_KEY.
-- Any answer other than 2xx/3xx shows in wrk's "Non-2xx or 3xx responses" line, which
-- run.sh checks (a 401 or 429 would make the throughput meaningless).
wrk.method = "POST"
wrk.body = '{"externalRef":"u1","checks":["liveness"]}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_KEY") or "missing")

done = function(summary, latency, requests)
  io.write(string.format("p50_us %d\np90_us %d\np99_us %d\n",
    latency:percentile(50), latency:percentile(90), latency:percentile(99)))
end
