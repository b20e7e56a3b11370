-- wrk script for bench/run's varied traffic: every request takes the next parameter set of a
-- list bench/run wrote beforehand (distinct sets in a random order fixed by --seed).
--
--   wrk -t2 -c32 -d10s -s bench/traffic.lua http://127.0.0.1:8000 -- PATHS THREADS [reverse]
--
-- PATHS: first line the URL template's literal pieces, tab-separated; then one line per
-- parameter set, its percent-encoded values tab-separated, the path being
-- piece 1 .. value 1 .. piece 2 .. value 2 .. … .. last piece.
-- Thread k of THREADS takes sets k, k + THREADS, k + 2 THREADS, … so the threads together walk
-- the list from its start without asking twice for a set until the list is spent; "reverse"
-- walks it from its end (the warm-up, so that the timed run meets sets it has not seen).
-- (wrk calls request() once before the run to check the script: thread 0 skips one set.)

local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

local function split(line)
  local out, start = {}, 1
  while true do
    local tab = string.find(line, "\t", start, true)
    if not tab then
      out[#out + 1] = string.sub(line, start)
      return out
    end
    out[#out + 1] = string.sub(line, start, tab - 1)
    start = tab + 1
  end
end

local pieces, rows, n, step, position, reverse

function init(args)
  local file = assert(io.open(args[1], "r"))
  rows = {}
  for line in file:lines() do
    if pieces == nil then
      pieces = split(line)
    else
      rows[#rows + 1] = split(line)
    end
  end
  file:close()
  n = #rows
  step = tonumber(args[2]) or 1
  reverse = args[3] == "reverse"
  position = id or 0
end

function request()
  local index = position % n
  if reverse then
    index = n - 1 - index
  end
  position = position + step
  local row = rows[index + 1]
  local parts = { pieces[1] }
  for k = 1, #row do
    parts[#parts + 1] = row[k]
    parts[#parts + 1] = pieces[k + 1]
  end
  return wrk.format("GET", table.concat(parts))
end
