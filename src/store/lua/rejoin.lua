-- rejoin(prefix, instance, ms, first, last, voter...): (re)registers
-- `instance` with exactly the voters it serves, sent in slices: every call
-- adds its voters to a set being built (begun afresh by the call with
-- first '1'); the call with last '1' puts that set in
-- place, gives the instance a lease of `ms`, and gives back the presence
-- votes that were withdrawn from these voters when another instance
-- reaped this one (stalled, not dead: their pages never closed). Each
-- withdrawn vote comes back once, and only if the voter has no vote on the
-- decision meanwhile. Returns how many came back.
local me, lease, first, last = ARGV[2], tonumber(ARGV[3]), ARGV[4] == '1', ARGV[5] == '1'
local held = instance_key(me)
local building = held .. ':rejoin'
if first then
  redis.call('DEL', building)
end
for i = 6, #ARGV do
  redis.call('SADD', building, ARGV[i])
end
if not last then
  return 0
end
if redis.call('EXISTS', building) == 1 then
  redis.call('RENAME', building, held)
else
  redis.call('DEL', held)
end
redis.call('ZADD', prefix .. 'instances', now_ms() + lease, me)
local run = redis.call('GET', prefix .. 'current')
local decision = run and redis.call('HGET', run_key(run, 'state'), 'open')
if not decision then
  return 0
end
local reaped = run_key(run, 'reaped:' .. decision)
local voters = run_key(run, 'voters:' .. decision)
local tally = run_key(run, 'tally:' .. decision)
local flat = redis.call('HGETALL', reaped)
local restored = 0
for i = 1, #flat, 2 do
  local voter = flat[i]
  local by, record = parse_reaped_record(flat[i + 1])
  if by == me then
    if redis.call('SISMEMBER', held, voter) == 1 and redis.call('HEXISTS', voters, voter) == 0 then
      local kind, choice = parse_voter_record(record)
      redis.call('HINCRBY', tally, choice, 1)
      redis.call('HSET', voters, voter, record)
      note_kind(run, decision, voter, kind, nil)
      restored = restored + 1
    end
    redis.call('HDEL', reaped, voter)
  end
end
return restored
