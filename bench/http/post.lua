-- wrk script for bench/http_bench.sh: one POST per request with a fixed JSON body.
--
-- Environment (read once per wrk thread):
--   BENCH_TOKEN        bearer token sent in Authorization
--   BENCH_BODY_FILE    file holding the request body
--   BENCH_PATH_PREFIX  if set, each request goes to PREFIX<thread>-<counter> (a new stream per
--                      request: "/api/streams/bench-" gives /api/streams/bench-1-42); otherwise
--                      every request goes to the URL's path (e.g. /api/orders)
local next_thread = 0

function setup(thread)
  next_thread = next_thread + 1
  thread:set("thread_id", next_thread)
end

local body, headers, prefix, fixed_request
local counter = 0

function init(args)
  local f = assert(io.open(os.getenv("BENCH_BODY_FILE"), "rb"))
  body = f:read("*a")
  f:close()
  headers = {
    ["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN"),
    ["Content-Type"] = "application/json",
  }
  prefix = os.getenv("BENCH_PATH_PREFIX")
  if prefix == "" then prefix = nil end
  if not prefix then
    fixed_request = wrk.format("POST", wrk.path, headers, body)
  end
end

function request()
  if fixed_request then return fixed_request end
  counter = counter + 1
  return wrk.format("POST", prefix .. thread_id .. "-" .. counter, headers, body)
end
