"""The Lua scripts of the Redis store: each runs whole or not at all, on the server's clock.

Every script takes the crawl's key prefix as KEYS[1] (``crawler:{ID}:``, one hash slot) and
reads time with ``TIME``, so workers on machines whose clocks disagree share one clock.
Keys under the prefix:

===================  =====================================================================
key                  holds
===================  =====================================================================
meta                 identity (JSON), started (ms), format
seeds                the crawl's seed URLs (a set)
s:XXXX               the seen-set: 65,536 hashes of 48-bit fingerprint tails (see SEEN_BITS)
n                    counters: seen, queued, ids
hosts, q:HOST        hosts with queued requests (rotated for fairness); each host's queue
req                  lease id -> "HOST REQUEST" for every request a worker holds
lease:W              the lease ids worker W holds; workers: W -> lease deadline (ms)
winfo:W              W's committed count, start and last renewal; wslots:W: host -> its slots taken
via:ID               seen entries a held request's redirects added (forgotten if it is redone)
records, tally       the saved records (JSON Lines, in commit order) and their counts
slot:HOST            politeness: active, next (ms), delay (ms)
robots, rclaim:HOST  host -> robots.txt ("A" allow all, "D" disallow all, "T" + text); who fetches it
replies              W -> the nonce and reply of its last claim and commit (a retry gets the same)
===================  =====================================================================
"""

from __future__ import annotations

_COMMON = """
local P = KEYS[1]
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function queue(host, req, front)
  local q = P .. 'q:' .. host
  local length = front and redis.call('LPUSH', q, req) or redis.call('RPUSH', q, req)
  if length == 1 then redis.call('RPUSH', P .. 'hosts', host) end
  redis.call('HINCRBY', P .. 'n', 'queued', 1)
end
local function forget(id)
  for _, fp in ipairs(redis.call('SMEMBERS', P .. 'via:' .. id)) do
    redis.call('HINCRBY', P .. 'n', 'seen', -redis.call('HDEL', P .. 's:' .. string.sub(fp, 1, 4), string.sub(fp, 5)))
  end
  redis.call('DEL', P .. 'via:' .. id)
end
local function push(adds)
  for _, a in ipairs(adds) do
    local fp, force, host, req, via = a[1], a[2], a[3], a[4], a[5]
    local fresh = redis.call('HSETNX', P .. 's:' .. string.sub(fp, 1, 4), string.sub(fp, 5), '') == 1
    if fresh then
      redis.call('HINCRBY', P .. 'n', 'seen', 1)
      if via ~= '' then redis.call('SADD', P .. 'via:' .. via, fp) end
    end
    if req ~= '' and (fresh or force == 1) then queue(host, req, false) end
  end
end
local function requeue(w)
  local n = 0
  for _, id in ipairs(redis.call('SMEMBERS', P .. 'lease:' .. w)) do
    local held = redis.call('HGET', P .. 'req', id)
    if held then
      local space = string.find(held, ' ', 1, true)
      queue(string.sub(held, 1, space - 1), string.sub(held, space + 1), true)
      redis.call('HDEL', P .. 'req', id)
      n = n + 1
    end
    forget(id)
  end
  local taken = redis.call('HGETALL', P .. 'wslots:' .. w)
  for i = 1, #taken, 2 do
    local slot = P .. 'slot:' .. taken[i]
    if redis.call('HINCRBY', slot, 'active', 0 - tonumber(taken[i + 1])) < 0 then
      redis.call('HSET', slot, 'active', 0)
    end
  end
  redis.call('DEL', P .. 'lease:' .. w, P .. 'wslots:' .. w, P .. 'winfo:' .. w)
  redis.call('ZREM', P .. 'workers', w)
  redis.call('HDEL', P .. 'replies', w .. ':claim', w .. ':commit')
  return n
end
local function reap()
  local n = 0
  for _, w in ipairs(redis.call('ZRANGEBYSCORE', P .. 'workers', '-inf', now_ms())) do
    n = n + requeue(w)
  end
  return n
end
local function replay(w, what, nonce)
  local last = redis.call('HGET', P .. 'replies', w .. ':' .. what)
  if last and string.sub(last, 1, #nonce + 1) == nonce .. ' ' then
    return cjson.decode(string.sub(last, #nonce + 2))
  end
  return nil
end
local function remember(w, what, nonce, reply)
  redis.call('HSET', P .. 'replies', w .. ':' .. what, nonce .. ' ' .. cjson.encode(reply))
  return reply
end
"""

# ARGV: worker, lease (ms). Joins the crawl (again, after its leases were taken over).
REGISTER = _COMMON + """
local w = ARGV[1]
redis.call('ZADD', P .. 'workers', now_ms() + tonumber(ARGV[2]), w)
redis.call('HSET', P .. 'winfo:' .. w, 'renewed', now_ms())
redis.call('HSETNX', P .. 'winfo:' .. w, 'since', now_ms())
redis.call('HSETNX', P .. 'winfo:' .. w, 'committed', 0)
return 1
"""

# ARGV: worker, lease (ms). 0 when the worker's leases were taken over: it must register again.
RENEW = _COMMON + """
if not redis.call('ZSCORE', P .. 'workers', ARGV[1]) then return 0 end
redis.call('ZADD', P .. 'workers', now_ms() + tonumber(ARGV[2]), ARGV[1])
redis.call('HSET', P .. 'winfo:' .. ARGV[1], 'renewed', now_ms())
return 1
"""

# Gives the requests of every worker whose lease ran out back to the queue, at its front
# (CLAIM and WORK_LEFT do it too: an idle worker, which renews nothing yet, still reaps).
REAP = _COMMON + """
return reap()
"""

# ARGV: worker. A worker leaving gives back what it still holds.
LEAVE = _COMMON + """
return requeue(ARGV[1])
"""

# ARGV: worker, nonce, how many, page budget of the crawl (-1: none), lease (ms).
# -> {-1} when the worker's leases were taken over, else {id, request, id, request, ...}.
CLAIM = _COMMON + """
local w, nonce, want, budget = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local again = replay(w, 'claim', nonce)
if again then return again end
reap()  -- whoever looks for work gives back what dead workers held
if not redis.call('ZSCORE', P .. 'workers', w) then return {-1} end
redis.call('ZADD', P .. 'workers', now_ms() + tonumber(ARGV[5]), w)  -- a claim renews the lease
if budget >= 0 then
  local used = tonumber(redis.call('HGET', P .. 'tally', 'pages') or 0) + redis.call('HLEN', P .. 'req')
  want = math.min(want, budget - used)
end
local out = {}
while #out < 2 * want do
  local host = redis.call('LMOVE', P .. 'hosts', P .. 'hosts', 'LEFT', 'RIGHT')
  if not host then break end
  local req = redis.call('LPOP', P .. 'q:' .. host)
  if redis.call('LLEN', P .. 'q:' .. host) == 0 then redis.call('LREM', P .. 'hosts', -1, host) end
  if req then
    local id = tostring(redis.call('HINCRBY', P .. 'n', 'ids', 1))
    redis.call('HSET', P .. 'req', id, host .. ' ' .. req)
    redis.call('SADD', P .. 'lease:' .. w, id)
    redis.call('HINCRBY', P .. 'n', 'queued', -1)
    out[#out + 1] = id
    out[#out + 1] = req
  end
end
return remember(w, 'claim', nonce, out)
"""

# ARGV: worker, nonce, JSON {"a": adds, "r": [[id, line, {tally field: n}]], "d": [ids]}.
# Queues the adds, then saves each record whose lease the worker still holds and ends
# that lease, in one step. -> a 1 or 0 per record: saved, or refused (the lease was lost).
COMMIT = _COMMON + """
local w, nonce = ARGV[1], ARGV[2]
local again = replay(w, 'commit', nonce)
if again then return again end
local batch = cjson.decode(ARGV[3])
push(batch['a'])
local saved = {}
for i, r in ipairs(batch['r']) do
  saved[i] = 0
  if redis.call('SREM', P .. 'lease:' .. w, r[1]) == 1 then
    redis.call('HDEL', P .. 'req', r[1])
    redis.call('DEL', P .. 'via:' .. r[1])
    redis.call('RPUSH', P .. 'records', r[2])
    for field, n in pairs(r[3]) do redis.call('HINCRBY', P .. 'tally', field, n) end
    redis.call('HINCRBY', P .. 'winfo:' .. w, 'committed', 1)
    saved[i] = 1
  end
end
for _, id in ipairs(batch['d']) do
  if redis.call('SREM', P .. 'lease:' .. w, id) == 1 then
    redis.call('HDEL', P .. 'req', id)
    redis.call('DEL', P .. 'via:' .. id)
  end
end
return remember(w, 'commit', nonce, saved)
"""

# ARGV: worker, page budget (-1: none), lease (ms). -> {queued (0 once the budget is spent), held by others}.
WORK_LEFT = _COMMON + """
reap()
redis.call('ZADD', P .. 'workers', 'XX', now_ms() + tonumber(ARGV[3]), ARGV[1])  -- asking renews
local queued = tonumber(redis.call('HGET', P .. 'n', 'queued') or 0)
local held = redis.call('HLEN', P .. 'req')
local mine = redis.call('SCARD', P .. 'lease:' .. ARGV[1])
local budget = tonumber(ARGV[2])
if budget >= 0 and tonumber(redis.call('HGET', P .. 'tally', 'pages') or 0) + held >= budget then
  queued = 0
end
return {queued, held - mine}
"""

# ARGV: worker, host, per-host limit, delay (ms), force, lease (ms).
# -> 0 taken; -1 at the limit; else ms to wait. A dead worker's slots are freed first: a
# worker waiting for a slot may have nothing else that would reap it.
ACQUIRE = _COMMON + """
reap()
redis.call('ZADD', P .. 'workers', 'XX', now_ms() + tonumber(ARGV[6]), ARGV[1])  -- asking renews
local w, host, limit, force = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[5] == '1'
local slot = P .. 'slot:' .. host
redis.call('HSETNX', slot, 'delay', ARGV[4])
local s = redis.call('HMGET', slot, 'active', 'next', 'delay')
local active, next, delay = tonumber(s[1] or 0), tonumber(s[2] or 0), tonumber(s[3])
local t = now_ms()
if not force then
  if active >= limit then return -1 end
  if t < next then return next - t end
end
redis.call('HSET', slot, 'active', active + 1, 'next', math.max(next, t + delay))
redis.call('HINCRBY', P .. 'wslots:' .. w, host, 1)
return 0
"""

# ARGV: worker, host, ms since the request was sent. The delay runs from when it was sent.
RELEASE = _COMMON + """
local w, host = ARGV[1], ARGV[2]
local mine = redis.call('HINCRBY', P .. 'wslots:' .. w, host, -1)
if mine <= 0 then redis.call('HDEL', P .. 'wslots:' .. w, host) end
if mine < 0 then return 0 end
local slot = P .. 'slot:' .. host
local s = redis.call('HMGET', slot, 'active', 'next', 'delay')
local next = math.max(tonumber(s[2] or 0), now_ms() - tonumber(ARGV[3]) + tonumber(s[3] or 0))
redis.call('HSET', slot, 'active', math.max(0, tonumber(s[1] or 0) - 1), 'next', next)
return 1
"""

# ARGV: host, ms. Start nothing more on the host for ms (Retry-After).
PAUSE = _COMMON + """
local slot = P .. 'slot:' .. ARGV[1]
local next = tonumber(redis.call('HGET', slot, 'next') or 0)
redis.call('HSET', slot, 'next', math.max(next, now_ms() + tonumber(ARGV[2])))
return 1
"""

# ARGV: host, coded rules, Crawl-delay (ms, -1: none). A longer Crawl-delay replaces the delay.
SETTLE_ROBOTS = _COMMON + """
local host = ARGV[1]
redis.call('HSET', P .. 'robots', host, ARGV[2])
local delay = tonumber(ARGV[3])
if delay >= 0 then
  local slot = P .. 'slot:' .. host
  redis.call('HSET', slot, 'delay', math.max(delay, tonumber(redis.call('HGET', slot, 'delay') or 0)))
end
redis.call('DEL', P .. 'rclaim:' .. host)
return 1
"""

# ARGV: started (ms) if the crawl is new. -> {now (ms), the crawl's start (ms)}.
CLOCK = _COMMON + """
local t = now_ms()
redis.call('HSETNX', P .. 'meta', 'started', t)
return {t, tonumber(redis.call('HGET', P .. 'meta', 'started'))}
"""
