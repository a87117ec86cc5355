-- withdraw(prefix, run, decision, voter, presence_only): withdraws the
-- voter's vote on the open decision (with presence_only '1', only a presence
-- vote); returns the choice withdrawn, or nil. A closed decision is frozen.
local run, decision, voter, presence_only = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if not is_current(run) or redis.call('HGET', run_key(run, 'state'), 'open') ~= decision then
  return false
end
local voters = run_key(run, 'voters:' .. decision)
local old = redis.call('HGET', voters, voter)
if not old or (presence_only == '1' and string.sub(old, 1, 1) == 'S') then
  return false
end
local choice = string.sub(old, 3)
local tally = run_key(run, 'tally:' .. decision)
if tonumber(redis.call('HGET', tally, choice) or '0') > 0 then
  redis.call('HINCRBY', tally, choice, -1)
end
redis.call('HDEL', voters, voter)
return choice
