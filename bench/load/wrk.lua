-- wrk script: the API key from WRK_API_KEY, and the run's figures as one JSON line at the end.
-- With WRK_JOB_IDS (comma-separated job ids) each request asks for the next job of the list in turn,
-- each thread starting at its own place: the load polls many jobs, not one (the URL's path is ignored).
-- Usage: WRK_API_KEY=tmb_... wrk -t2 -c32 -d10s -s bench/load/wrk.lua http://127.0.0.1:PORT/v1/me

local key = os.getenv("WRK_API_KEY")
local job_ids = {}
for id in string.gmatch(os.getenv("WRK_JOB_IDS") or "", "[^,]+") do
  job_ids[#job_ids + 1] = id
end
local counter = 0
local threads_set_up = 0

-- Runs in the main state; `thread:set` makes a global of the thread's own state (hence no `local`).
function setup(thread)
  thread:set("start_at", threads_set_up * 97)
  threads_set_up = threads_set_up + 1
end

function init(args)
  if key and key ~= "" then
    wrk.headers["Authorization"] = "Bearer " .. key
  end
  counter = start_at or 0
end

if #job_ids > 0 then
  function request()
    counter = counter + 1
    return wrk.format("GET", "/v1/jobs/" .. job_ids[counter % #job_ids + 1])
  end
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "seconds": %.3f, "rps": %.1f, "p50_ms": %.3f, "p90_ms": %.3f, ' ..
    '"p99_ms": %.3f, "max_ms": %.3f, "non_2xx": %d, "socket_errors": %d}\n',
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, e.status, e.connect + e.read + e.write + e.timeout))
end
