-- GET BENCH_PATH; with BENCH_ITEMS, each request substitutes the next item of the list for "{item}".
local lib = dofile((os.getenv("BENCH_LUA_DIR") or "bench/lua") .. "/lib.lua")

local items, position, order, path, headers

setup = lib.setup
done = lib.done

function init(args)
  path = assert(os.getenv("BENCH_PATH"), "BENCH_PATH is required")
  headers = lib.headers()
  order = os.getenv("BENCH_ORDER") or "sequential"
  local file = os.getenv("BENCH_ITEMS")
  local id = tonumber(wrk.thread:get("thread_id")) or 0
  math.randomseed(os.time() + id * 7919)
  if file and #file > 0 then
    items = lib.read_lines(file)
    local threads = tonumber(os.getenv("BENCH_THREADS") or "2")
    position = math.floor(#items * id / threads)
  else
    -- A fixed request: format it once.
    fixed = wrk.format("GET", path, headers)
  end
end

function request()
  if fixed then return fixed end
  local item
  if order == "random" then
    item = items[math.random(#items)]
  else
    position = position % #items + 1
    item = items[position]
  end
  return wrk.format("GET", (path:gsub("{item}", item)), headers)
end
