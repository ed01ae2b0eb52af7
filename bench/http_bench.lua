-- wrk script of bench/http_bench.sh: what each request is, and one line of
-- results that the shell script parses.  Set by the environment:
--   ARC_KEY           the API key (Authorization: Bearer)
--   ARC_MODE          get      GET ARC_PATH as it is
--                     id       GET ARC_PATH with {id} a random id in ARC_ID_MIN..ARC_ID_MAX
--                     payment  POST /v1/payments, auto-allocated, for a random line of ARC_IDS
--                     call     POST /v1/call-logs for a random line of ARC_IDS
--   ARC_PATH          the path (get, id), e.g. /v1/invoices/{id}
--   ARC_IDS           a file of "id currency" lines: customers to post for
--   ARC_DAY           received_on of the payments (YYYY-MM-DD)
-- done() prints "ARCBENCH requests=... seconds=... rps=... p50_ms=... p99_ms=...
-- non2xx=... errors=...": wrk counts any status above 399 as non2xx.

local mode = os.getenv("ARC_MODE") or "get"
local path = os.getenv("ARC_PATH") or "/readyz"
local id_min = tonumber(os.getenv("ARC_ID_MIN") or "1")
local id_max = tonumber(os.getenv("ARC_ID_MAX") or "1")
local day = os.getenv("ARC_DAY") or "2000-01-01"

wrk.headers["Authorization"] = "Bearer " .. (os.getenv("ARC_KEY") or "")
if mode == "payment" or mode == "call" then
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

-- Each wrk thread runs this file in a Lua state of its own; setup() (in the
-- main state) gives each a number, so their random sequences differ.
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_no", threads)
end

local ids, currencies = {}, {}
function init(args)
  math.randomseed(os.time() * 1000 + (thread_no or 0) * 7919)

  local file = os.getenv("ARC_IDS")
  if file and file ~= "" then
    for line in io.lines(file) do
      local id, cur = line:match("^(%d+)%s*(%a*)")
      if id then
        ids[#ids + 1] = id
        currencies[#currencies + 1] = cur ~= "" and cur or "USD"
      end
    end
    if #ids == 0 then
      error("no ids in " .. file)
    end
  end
end

-- "id": the request is formatted once around its {id} (at the first
-- request, when wrk has set the Host header): wrk.format on every request
-- costs the machine a tenth of what the server spends on a GET.
local id_head, id_tail

function request()
  if mode == "id" then
    if not id_head then
      local text = wrk.format(nil, path)
      local from, to = text:find("{id}", 1, true)
      id_head, id_tail = text:sub(1, from - 1), text:sub(to + 1)
    end
    return id_head .. math.random(id_min, id_max) .. id_tail
  elseif mode == "payment" then
    local n = math.random(#ids)
    -- A cent or a few: the customer's oldest open invoice stays open, run after run.
    local body = string.format('{"customer_id":"%s","amount":%d,"currency":"%s","received_on":"%s",'
                                 .. '"method":"ach","reference":"http_bench"}',
                               ids[n], math.random(1, 100), currencies[n], day)
    return wrk.format(nil, "/v1/payments", nil, body)
  elseif mode == "call" then
    local body = string.format('{"customer_id":"%s","channel":"phone","direction":"outbound",'
                                 .. '"outcome":"no_answer","contact_name":"Accounts payable",'
                                 .. '"notes":"http_bench"}', ids[math.random(#ids)])
    return wrk.format(nil, "/v1/call-logs", nil, body)
  end
  return wrk.format(nil, path)
end

function done(summary, latency, requests)
  local e = summary.errors
  local seconds = summary.duration / 1e6
  io.write(string.format("ARCBENCH requests=%d seconds=%.2f rps=%.0f p50_ms=%.2f p99_ms=%.2f "
                           .. "max_ms=%.2f non2xx=%d errors=%d\n",
                         summary.requests, seconds, summary.requests / seconds,
                         latency:percentile(50) / 1000, latency:percentile(99) / 1000,
                         latency.max / 1000, e.status, e.connect + e.read + e.write + e.timeout))
end
