-- wrk script for bench/session_read.sh.
--
-- With BENCH_IDS=<file of session ids, one a line> in the environment, every request is
-- GET /api/sessions/<id>, cycling through the ids (each thread starts at a different place).
-- Without it, wrk sends the URL given on its command line (static, no Lua per request).
-- At the end it prints one line "BENCH_RESULT {json}" with the counts and latencies.

local ids_file = os.getenv("BENCH_IDS")

if ids_file and ids_file ~= "" then
  local paths = {}
  local idx = 0

  function init(args)
    for line in io.lines(ids_file) do
      if #line > 0 then
        paths[#paths + 1] = "/api/sessions/" .. line
      end
    end
    if #paths == 0 then
      error("no ids in " .. ids_file)
    end
    math.randomseed(os.time() + math.floor(os.clock() * 1000000))
    idx = math.random(#paths)
  end

  function request()
    idx = idx % #paths + 1
    return wrk.format("GET", paths[idx])
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"mean": %.1f, "p50": %d, "p90": %d, "p99": %d, "max": %d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
