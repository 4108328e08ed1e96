-- wrk script: POST single-action decisions with a bearer token.
-- BODY picks the action: an allowed write by default.
local token = os.getenv("PARAPET_TOKEN")
local body = os.getenv("BODY") or '{"call": {"action": "s3:PutObject", "params": {"Bucket": "b", "Key": "k"}}}'
wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. token

local statuses = {}
response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

done = function(summary, latency, requests)
  -- wrk runs response() per thread; the per-status counts are printed by thread 1 only.
  io.write(string.format("p50 %.2f ms, p99 %.2f ms, errors %d\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
