-- Mixed soak workload: 70% public tracking, 15% list/detail (customer), 10% events (carrier), 5% creates.
-- Each request carries X-Request-ID "<kind>-..."; the service echoes it, so response() can count statuses per
-- kind even with several connections per thread. SOAK_DELAY_MS paces every connection (wrk's delay()).
-- Environment (set by bench/soak.py): SOAK_TRACK, SOAK_DETAIL, SOAK_EVENTS (item files), SOAK_SHIPPER_TOKEN,
-- SOAK_CARRIER_TOKEN, SOAK_RUN (unique run id), SOAK_PHASE (unique within the run), SOAK_DELAY_MS.
local lib = dofile((os.getenv("BENCH_LUA_DIR") or "bench/lua") .. "/lib.lua")

local track, detail, events, shipper, carrier, run, pause, id, n
counts = {}

setup = lib.setup

function init(args)
  track = lib.read_lines(os.getenv("SOAK_TRACK"))
  detail = lib.read_lines(os.getenv("SOAK_DETAIL"))
  events = lib.read_lines(os.getenv("SOAK_EVENTS"))
  shipper = "Bearer " .. os.getenv("SOAK_SHIPPER_TOKEN")
  carrier = "Bearer " .. os.getenv("SOAK_CARRIER_TOKEN")
  run = os.getenv("SOAK_RUN") .. "-" .. os.getenv("SOAK_PHASE")
  pause = tonumber(os.getenv("SOAK_DELAY_MS") or "0")
  id = tonumber(wrk.thread:get("thread_id")) or 0
  n = 0
  math.randomseed(os.time() + id * 7919)
end

function delay()
  return pause
end

local function address(name)
  return '{"name": "' .. name .. '", "street": "Damrak 1", "city": "Amsterdam", "postal_code": "1012 LG", ' ..
    '"country": "NL"}'
end

function request()
  n = n + 1
  local roll = math.random(100)
  local rid = string.format("%s-%d-%d", "%s", id, n)
  if roll <= 70 then
    return wrk.format("GET", "/api/v1/track/" .. track[math.random(#track)] .. "/",
      {["X-Request-ID"] = string.format(rid, "track")})
  elseif roll <= 78 then
    return wrk.format("GET", "/api/v1/parcels/?page_size=25",
      {["Authorization"] = shipper, ["X-Request-ID"] = string.format(rid, "list")})
  elseif roll <= 85 then
    return wrk.format("GET", "/api/v1/parcels/" .. detail[math.random(#detail)] .. "/",
      {["Authorization"] = shipper, ["X-Request-ID"] = string.format(rid, "detail")})
  elseif roll <= 95 then
    local body = '{"status": "in_transit", "location": "soak-' .. os.getenv("SOAK_RUN") .. '", ' ..
      '"description": "soak scan"}'
    return wrk.format("POST", "/api/v1/parcels/" .. events[math.random(#events)] .. "/events/",
      {["Authorization"] = carrier, ["Content-Type"] = "application/json",
       ["X-Request-ID"] = string.format(rid, "event")}, body)
  else
    local body = '{"reference": "soak-' .. run .. '-' .. id .. '-' .. n .. '", "weight_grams": 800, ' ..
      '"sender": ' .. address("Soak Sender") .. ', "recipient": ' .. address("Soak Recipient") .. '}'
    return wrk.format("POST", "/api/v1/parcels/",
      {["Authorization"] = shipper, ["Content-Type"] = "application/json",
       ["X-Request-ID"] = string.format(rid, "create")}, body)
  end
end

function response(status, headers, body)
  local rid = headers["X-Request-ID"] or headers["x-request-id"] or "unknown"
  local kind = rid:match("^(%a+)-") or "unknown"
  local key = kind .. ":" .. status
  counts[key] = (counts[key] or 0) + 1
end

local threads = {}
local base_setup = setup
function setup(thread)
  base_setup(thread)
  table.insert(threads, thread)
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for key, value in pairs(thread:get("counts")) do
      total[key] = (total[key] or 0) + value
    end
  end
  local parts = {}
  for key, value in pairs(total) do
    table.insert(parts, string.format('"%s": %d', key, value))
  end
  io.write("SOAK_COUNTS {" .. table.concat(parts, ", ") .. "}\n")
  lib.done(summary, latency, requests)
end
