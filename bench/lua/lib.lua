-- Shared helpers for the bench scripts (loaded with dofile by each script; every wrk thread has its own Lua state).
-- Configuration comes from the environment, set by bench/bench.py:
--   BENCH_TOKEN   token (optional), sent as "Authorization: <BENCH_AUTH_SCHEME, default Bearer> <token>"
--   BENCH_ITEMS   file with one item per line, substituted for "{item}" in BENCH_PATH (optional)
--   BENCH_PATH    request path, e.g. /api/v1/track/{item}/
--   BENCH_BODY    file whose content is the request body (optional; implies Content-Type: application/json)
--   BENCH_ORDER   "sequential" (default: each thread walks the shuffled list from its own offset, so an item
--                 repeats only after the whole list was used) or "random"

local M = {}

function M.read_lines(path)
  local items = {}
  local f = assert(io.open(path, "r"), "cannot open " .. path)
  for line in f:lines() do
    if #line > 0 then items[#items + 1] = line end
  end
  f:close()
  assert(#items > 0, "no items in " .. path)
  return items
end

function M.read_file(path)
  local f = assert(io.open(path, "r"), "cannot open " .. path)
  local s = f:read("*a")
  f:close()
  return s
end

function M.headers()
  local h = { ["Accept"] = "application/json" }
  local token = os.getenv("BENCH_TOKEN")
  if token and #token > 0 then h["Authorization"] = (os.getenv("BENCH_AUTH_SCHEME") or "Bearer") .. " " .. token end
  if os.getenv("BENCH_BODY") then h["Content-Type"] = "application/json" end
  return h
end

-- Thread ids for per-thread offsets (setup runs in the main Lua state, once per thread).
local next_id = 0
function M.setup(thread)
  thread:set("thread_id", next_id)
  thread:set("thread_count_hint", 0)
  next_id = next_id + 1
end

local function json_escape(s)
  return (tostring(s):gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end))
end

-- One machine-readable line for bench.py. Latency values are microseconds.
function M.done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "errors_connect": %d, "errors_read": %d, ' ..
    '"errors_write": %d, "errors_status": %d, "errors_timeout": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "mean_us": %.1f, "script": "%s"}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    json_escape(os.getenv("BENCH_NAME") or "")))
end

return M
