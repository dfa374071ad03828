-- wrk script: candidates autosaving answers.
--
--   wrk -t2 -c500 -d15s --timeout 10s -s bench/autosave.lua http://127.0.0.1:8100 \
--       -- ATTEMPTS_FILE CONNECTIONS THREADS SEQ_BASE
--
-- ATTEMPTS_FILE has one started attempt per line: "<id>\t<credential>\t<ref>,<ref>,...".
-- wrk spreads CONNECTIONS evenly over its THREADS (repeat -c and -t here: a thread's Lua
-- state cannot see them); thread t owns the slice of CONNECTIONS / THREADS attempts that
-- starts at line t * (CONNECTIONS / THREADS) + 1, so
-- every connection has an attempt of its own in the steady state and no two threads ever
-- write to the same attempt. wrk does not tell a script which connection a request goes
-- out on, so each thread hands its attempts out in turn; an attempt gets its next save
-- about when its previous one was answered.
--
-- Each save is PUT /api/v1/attempts/<id>/responses/<ref> with {"seq": n, "value": "B"}:
-- seq counts up per attempt from SEQ_BASE + 1 (give each run a larger base, so saves of a
-- later run are never stale), ref and value go round-robin over the attempt's items and the
-- choices A-D. done() prints one line "BENCH_RESULT {...}" (JSON) for the runner.

local threads = {}

function setup(thread)
  -- runs in wrk's main Lua state; each thread's own state gets its number as a global
  thread:set("index", #threads)
  table.insert(threads, thread)
end

local attempts = {}
local cursor = 0
local choices = { "A", "B", "C", "D" }
accepted = 0
stale = 0
other = 0

local function split(text, sep)
  local out = {}
  for part in string.gmatch(text, "([^" .. sep .. "]+)") do
    table.insert(out, part)
  end
  return out
end

function init(args)
  local path, connections = args[1], tonumber(args[2])
  local thread_count, seq_base = tonumber(args[3]), tonumber(args[4] or "0")
  local lines = {}
  for line in io.lines(path) do
    if #line > 0 then
      table.insert(lines, line)
    end
  end
  local per = math.ceil(connections / thread_count)
  local first = index * per
  for n = 0, per - 1 do
    local fields = split(lines[((first + n) % #lines) + 1], "\t")
    table.insert(attempts, {
      id = fields[1],
      token = fields[2],
      refs = split(fields[3], ","),
      seq = seq_base,
    })
  end
end

function request()
  cursor = cursor % #attempts + 1
  local a = attempts[cursor]
  a.seq = a.seq + 1
  local ref = a.refs[(a.seq % #a.refs) + 1]
  local value = choices[(a.seq % #choices) + 1]
  return wrk.format(
    "PUT",
    "/api/v1/attempts/" .. a.id .. "/responses/" .. ref,
    { ["Content-Type"] = "application/json", ["X-Attempt-Token"] = a.token },
    '{"seq": ' .. a.seq .. ', "value": "' .. value .. '"}'
  )
end

function response(status, headers, body)
  if status == 200 and string.find(body, '"accepted":%s*true') then
    accepted = accepted + 1
  elseif status == 200 then
    stale = stale + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local acc, st, oth = 0, 0, 0
  for _, thread in ipairs(threads) do
    acc = acc + thread:get("accepted")
    st = st + thread:get("stale")
    oth = oth + thread:get("other")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p95_us": %d, '
      .. '"p99_us": %d, "max_us": %d, "mean_us": %.1f, "accepted": %d, "stale": %d, '
      .. '"non_200": %d, "connect_errors": %d, "read_errors": %d, "write_errors": %d, '
      .. '"timeouts": %d, "status_errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max, latency.mean, acc, st, oth, e.connect, e.read,
    e.write, e.timeout, e.status
  ))
end
