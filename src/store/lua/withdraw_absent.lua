-- withdraw_absent(prefix, run, decision, instance, grace_ms): withdraws the
-- presence votes on the open decision of every voter who is not present:
-- held by no live instance (see arrive.lua) and without a running lease
-- (keep_present, leave). Returns how many votes were withdrawn. Sticky
-- votes stay; a closed decision is frozen.
--
-- An instance whose lease ran out is reaped first: it no longer holds its
-- voters, who get a lease of `grace_ms` as if their pages had just closed
-- (a page that reconnected elsewhere meanwhile keeps its vote). They are
-- noted in `orphans` with the reaped instance's id, and when such a
-- voter's vote is withdrawn it is kept aside under `reaped:<decision>`
-- with that id, so that the instance can give it back (rejoin.lua) if it
-- was only stalled and the page is still open there.
--
-- `instance` ('' for none) is the caller: it is alive, since it runs this,
-- so it is never reaped here; and if it was reaped already (stalled, and
-- not rejoined yet), it withdraws nothing: its own voters are missing from
-- its set until it rejoins.
local run, decision, me = ARGV[2], ARGV[3], ARGV[4] or ''
local grace = tonumber(ARGV[5] or '0')
if not is_open(run, decision) then
  return 0
end
local instances = prefix .. 'instances'
if me ~= '' and not redis.call('ZSCORE', instances, me) then
  return 0
end
local now = now_ms()
local leases = prefix .. 'presence'
local orphans = prefix .. 'orphans'
for _, dead in ipairs(redis.call('ZRANGEBYSCORE', instances, '-inf', '(' .. now)) do
  if dead ~= me then
    for _, voter in ipairs(redis.call('SMEMBERS', instance_key(dead))) do
      redis.call('ZADD', leases, 'GT', now + grace, voter)
      redis.call('HSET', orphans, voter, dead)
    end
    redis.call('DEL', instance_key(dead))
    redis.call('ZREM', instances, dead)
  end
end
local live = redis.call('ZRANGE', instances, 0, -1)
redis.call('ZREMRANGEBYSCORE', leases, '-inf', now)
local function held(voter)
  for _, instance in ipairs(live) do
    if redis.call('SISMEMBER', instance_key(instance), voter) == 1 then
      return true
    end
  end
  return false
end
local voters = run_key(run, 'voters:' .. decision)
local tally = run_key(run, 'tally:' .. decision)
local reaped = run_key(run, 'reaped:' .. decision)
local records = redis.call('HGETALL', voters)
local withdrawn = 0
for i = 1, #records, 2 do
  local voter, record = records[i], records[i + 1]
  if string.sub(record, 1, 1) == 'P' and not redis.call('ZSCORE', leases, voter) and not held(voter) then
    uncount(tally, string.sub(record, 3))
    redis.call('HDEL', voters, voter)
    local by = redis.call('HGET', orphans, voter)
    if by then
      redis.call('HSET', reaped, voter, by .. '|' .. record)
    end
    withdrawn = withdrawn + 1
  end
end
-- An orphan is settled once its lease ran out or an instance holds it.
local flat = redis.call('HGETALL', orphans)
for i = 1, #flat, 2 do
  local voter = flat[i]
  if not redis.call('ZSCORE', leases, voter) or held(voter) then
    redis.call('HDEL', orphans, voter)
  end
end
return withdrawn
