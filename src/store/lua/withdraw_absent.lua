-- withdraw_absent(prefix, run, decision, instance): withdraws the presence
-- votes on the open decision of every voter who is not present: held by no
-- live instance (see arrive.lua) and without a running lease (keep_present,
-- leave). Returns how many votes were withdrawn. Sticky votes stay; a
-- closed decision is frozen.
--
-- An instance whose lease ran out is reaped first: it no longer holds its
-- voters, and the votes of those no other instance holds are withdrawn
-- now, kept aside under `reaped:<decision>` with its id, so that it can
-- give them back (rejoin.lua) if it was only stalled.
--
-- `instance` ('' for none) is the caller: it is alive, since it runs this,
-- so it is never reaped here; and if it was reaped already (stalled, and
-- not rejoined yet), it withdraws nothing: its own voters are missing from
-- its set until it rejoins.
local run, decision, me = ARGV[2], ARGV[3], ARGV[4] or ''
if not is_open(run, decision) then
  return 0
end
local instances = prefix .. 'instances'
if me ~= '' and not redis.call('ZSCORE', instances, me) then
  return 0
end
local now = now_ms()
local orphans = {}
for _, dead in ipairs(redis.call('ZRANGEBYSCORE', instances, '-inf', '(' .. now)) do
  if dead ~= me then
    for _, voter in ipairs(redis.call('SMEMBERS', instance_key(dead))) do
      orphans[voter] = dead
    end
    redis.call('DEL', instance_key(dead))
    redis.call('ZREM', instances, dead)
  end
end
local live = redis.call('ZRANGE', instances, 0, -1)
local leases = prefix .. 'presence'
redis.call('ZREMRANGEBYSCORE', leases, '-inf', now)
local voters = run_key(run, 'voters:' .. decision)
local tally = run_key(run, 'tally:' .. decision)
local reaped = run_key(run, 'reaped:' .. decision)
local records = redis.call('HGETALL', voters)
local withdrawn = 0
for i = 1, #records, 2 do
  local voter, record = records[i], records[i + 1]
  if string.sub(record, 1, 1) == 'P' then
    local held = false
    for _, instance in ipairs(live) do
      if redis.call('SISMEMBER', instance_key(instance), voter) == 1 then
        held = true
        break
      end
    end
    local orphan = orphans[voter]
    -- A reaped instance's voter goes now, whatever lease it had.
    if not held and (orphan or not redis.call('ZSCORE', leases, voter)) then
      uncount(tally, string.sub(record, 3))
      redis.call('HDEL', voters, voter)
      if orphan then
        redis.call('HSET', reaped, voter, orphan .. '|' .. record)
      end
      withdrawn = withdrawn + 1
    end
  end
end
return withdrawn
