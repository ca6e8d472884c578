"""The Lua scripts that make a Redis budget atomic (one per operation).

Every account is one Redis HASH (``<prefix><account key>``). Amounts are integer
nano-dollars, so sums are exact. Fields:

- ``s:<bucket>:<instance>:<tenant>`` = what one budget object (one process) has
  spent in that time bucket, as an *absolute* total that only grows. Writes take
  the maximum of the stored and the new value, so a settle that is retried, or
  replayed when Redis comes back empty, never counts twice.
- ``r:<instance>.<n>`` = ``<nanos>:<deadline ms>:<tenant>``: a reservation of a call
  in flight. One past its deadline (its process died) no longer counts.

``KEYS[1]`` is the store's generation key and ``ARGV[1]`` the generation the caller
knows: a script that finds another one (Redis restarted empty) returns ``{-1}`` and
changes nothing, and the caller writes its spend back before trusting the store.

The refusal rule is :func:`tokenomy.budget.base.refusal`, written again in Lua;
``tests/tokenomy/budget`` runs the same cases against both.
"""

from __future__ import annotations

__all__ = ["RECONCILE", "RESERVE", "SETTLE"]

_SCAN = """
local function same_generation()
  return redis.call('GET', KEYS[1]) == ARGV[1]
end

local function scan(key, live_from, now)
  local fields = redis.call('HGETALL', key)
  local spent, reserved, spent_all, reserved_all = {}, {}, 0, 0
  for j = 1, #fields, 2 do
    local f, v = fields[j], fields[j + 1]
    local kind = string.sub(f, 1, 2)
    if kind == 's:' then
      local bucket, tenant = string.match(f, '^s:(%-?%d+):[^:]*:(.*)$')
      if tonumber(bucket) < live_from then
        redis.call('HDEL', key, f)
      else
        local n = tonumber(v)
        spent[tenant] = (spent[tenant] or 0) + n
        spent_all = spent_all + n
      end
    elseif kind == 'r:' then
      local n, deadline, tenant = string.match(v, '^(%d+):(%d+):(.*)$')
      if tonumber(deadline) < now then
        redis.call('HDEL', key, f)
      else
        n = tonumber(n)
        reserved[tenant] = (reserved[tenant] or 0) + n
        reserved_all = reserved_all + n
      end
    end
  end
  return spent, reserved, spent_all, reserved_all
end
"""

RESERVE = (
    _SCAN
    + """
-- KEYS: the generation key, then the accounts of the limits covering the call.
-- ARGV: generation, rid field, nanos, now ms, deadline ms, force (1: never refuse),
--   then per account: limit nanos (-1: soft), live_from, expire_at ms (0: none),
--   tenant, guaranteed, n, then n pairs (listed tenant, its share in nanos).
-- Returns {1, then per account: spent, reserved, n, n x (tenant, spent, reserved) of
-- the listed tenants and the caller's (fair shares only)} or {0, account index,
-- reason, spent, reserved, tenant's own use}; reason 1: used up, 2: no room, 3: fair.
if not same_generation() then return {-1} end
local rid, amount, now = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local deadline, force = ARGV[5], ARGV[6] == '1'
local p, out, expire, tenants = 7, {1}, {}, {}
for i = 2, #KEYS do
  local key = KEYS[i]
  local limit, live_from = tonumber(ARGV[p]), tonumber(ARGV[p + 1])
  local tenant, guaranteed, n = ARGV[p + 3], tonumber(ARGV[p + 4]), tonumber(ARGV[p + 5])
  expire[i], tenants[i] = tonumber(ARGV[p + 2]), tenant
  local shares = {}
  for j = 1, n do
    shares[ARGV[p + 4 + 2 * j]] = tonumber(ARGV[p + 5 + 2 * j])
  end
  p = p + 6 + 2 * n
  local spent, reserved, spent_all, reserved_all = scan(key, live_from, now)
  if limit >= 0 and not force then
    local used = spent_all + reserved_all
    local reason = 0
    if spent_all >= limit then
      reason = 1
    elseif used + amount > limit then
      reason = 2
    else
      local held = 0
      for t, share in pairs(shares) do
        if t ~= tenant then
          local left = share - (spent[t] or 0) - (reserved[t] or 0)
          if left > 0 then held = held + guaranteed * left end
        end
      end
      if used + amount + held > limit + 0.5 then reason = 3 end
    end
    if reason > 0 then
      local mine = (spent[tenant] or 0) + (reserved[tenant] or 0)
      return {0, i - 1, reason, spent_all, reserved_all, mine}
    end
  end
  out[#out + 1] = spent_all
  out[#out + 1] = reserved_all + amount
  local listed = {}  -- fair shares: what each listed tenant (and the caller) has used
  for t, _ in pairs(shares) do listed[#listed + 1] = t end
  if shares[tenant] == nil and n > 0 then listed[#listed + 1] = tenant end
  out[#out + 1] = #listed
  for _, t in ipairs(listed) do
    local extra = 0
    if t == tenant then extra = amount end
    out[#out + 1] = t
    out[#out + 1] = spent[t] or 0
    out[#out + 1] = (reserved[t] or 0) + extra
  end
end
for i = 2, #KEYS do
  redis.call('HSET', KEYS[i], rid, ARGV[3] .. ':' .. deadline .. ':' .. tenants[i])
  if expire[i] > 0 then redis.call('PEXPIREAT', KEYS[i], expire[i]) end
end
return out
"""
)

SETTLE = (
    _SCAN
    + """
-- KEYS: the generation key, then the reservation's accounts. ARGV: generation, rid
--   field, now ms, then per account: live_from, expire_at ms (0: none), spent field
--   ('' to only release), its new absolute value in nanos (kept if larger).
-- Returns {spent, reserved, ...per account}, or {-1} (another generation).
if not same_generation() then return {-1} end
local out = {}
for i = 2, #KEYS do
  local key, b = KEYS[i], 4 + (i - 2) * 4
  local live_from, expire_at = tonumber(ARGV[b]), tonumber(ARGV[b + 1])
  local field, value = ARGV[b + 2], ARGV[b + 3]
  redis.call('HDEL', key, ARGV[2])
  if field ~= '' then
    local current = tonumber(redis.call('HGET', key, field) or '0')
    if tonumber(value) > current then redis.call('HSET', key, field, value) end
    if expire_at > 0 then redis.call('PEXPIREAT', key, expire_at) end
  end
  local _, _, spent_all, reserved_all = scan(key, live_from, tonumber(ARGV[3]))
  out[#out + 1] = spent_all
  out[#out + 1] = reserved_all
end
return out
"""
)

RECONCILE = (
    _SCAN
    + """
-- After an outage: write back one process's spend and open reservations, and
-- adopt the store's generation (a new one if it has none: it restarted empty).
-- KEYS: the generation key, then the accounts it knows. ARGV: a new generation
--   token, its reservation prefix ('r:<instance>.'), now ms, then per account:
--   live_from, expire_at ms, ns, nr, ns (field, nanos) spent pairs (kept if
--   larger), nr (field, value) open reservations. Its other reservations are dropped.
-- Returns {generation, spent, reserved, ...per account}.
redis.call('SET', KEYS[1], ARGV[1], 'NX')
local out = {redis.call('GET', KEYS[1])}
local prefix, now, p = ARGV[2], tonumber(ARGV[3]), 4
for i = 2, #KEYS do
  local key = KEYS[i]
  local live_from, expire_at = tonumber(ARGV[p]), tonumber(ARGV[p + 1])
  local ns, nr = tonumber(ARGV[p + 2]), tonumber(ARGV[p + 3])
  p = p + 4
  local open = {}
  for j = 1, nr do
    open[ARGV[p + 2 * ns + 2 * j - 2]] = ARGV[p + 2 * ns + 2 * j - 1]
  end
  for _, f in ipairs(redis.call('HKEYS', key)) do
    if string.sub(f, 1, #prefix) == prefix and open[f] == nil then
      redis.call('HDEL', key, f)
    end
  end
  for f, v in pairs(open) do redis.call('HSET', key, f, v) end
  for j = 1, ns do
    local f, v = ARGV[p + 2 * j - 2], ARGV[p + 2 * j - 1]
    local current = tonumber(redis.call('HGET', key, f) or '0')
    if tonumber(v) > current then redis.call('HSET', key, f, v) end
  end
  p = p + 2 * ns + 2 * nr
  if expire_at > 0 and redis.call('EXISTS', key) == 1 then
    redis.call('PEXPIREAT', key, expire_at)
  end
  local _, _, spent_all, reserved_all = scan(key, live_from, now)
  out[#out + 1] = spent_all
  out[#out + 1] = reserved_all
end
return out
"""
)
