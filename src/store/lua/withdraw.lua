-- withdraw(prefix, run, decision, voter, presence_only): withdraws the
-- voter's vote on the open decision (with presence_only '1', only a presence
-- vote); returns the choice withdrawn, or nil. A closed decision is frozen.
local run, decision, voter, presence_only = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if not is_open(run, decision) then
  return false
end
local voters = run_key(run, 'voters:' .. decision)
local old = redis.call('HGET', voters, voter)
if not old then
  return false
end
local kind, choice = parse_voter_record(old)
if presence_only == '1' and kind == 'S' then
  return false
end
uncount(run_key(run, 'tally:' .. decision), choice)
redis.call('HDEL', voters, voter)
if kind == 'P' then
  redis.call('SREM', present_key(run, decision), voter)
end
return choice
