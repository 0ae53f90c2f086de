-- POST BENCH_BODY to BENCH_PATH; with BENCH_ITEMS, "{item}" in the path is replaced by a random item
-- (e.g. the id of a parcel that is in transit, for adding events).
local lib = dofile((os.getenv("BENCH_LUA_DIR") or "bench/lua") .. "/lib.lua")

local items, path, headers, body

setup = lib.setup
done = lib.done

function init(args)
  path = assert(os.getenv("BENCH_PATH"), "BENCH_PATH is required")
  headers = lib.headers()
  body = lib.read_file(assert(os.getenv("BENCH_BODY"), "BENCH_BODY is required"))
  local id = tonumber(wrk.thread:get("thread_id")) or 0
  math.randomseed(os.time() + id * 7919)
  local file = os.getenv("BENCH_ITEMS")
  if file and #file > 0 then
    items = lib.read_lines(file)
  else
    fixed = wrk.format("POST", path, headers, body)
  end
end

function request()
  if fixed then return fixed end
  return wrk.format("POST", (path:gsub("{item}", items[math.random(#items)])), headers, body)
end
