-- vote(prefix, run, decision, voter, choice, kind): casts or moves the
-- voter's vote on the open decision. kind is 'P' (presence) or 'S' (sticky);
-- the voter's record is '<kind>|<choice>'. The counters change only here, in
-- withdraw.lua and withdraw_absent.lua, always together with the voter
-- records, so they stay equal.
local run, decision, voter, choice, kind = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
if not is_current(run) then
  return {'not_current'}
end
if redis.call('HGET', run_key(run, 'state'), 'open') ~= decision then
  return {'not_open'}
end
local voters = run_key(run, 'voters:' .. decision)
local tally = run_key(run, 'tally:' .. decision)
local previous = false
local old = redis.call('HGET', voters, voter)
if old then
  local old_kind, old_choice = string.sub(old, 1, 1), string.sub(old, 3)
  if old_choice == choice then
    -- The same vote again; a sticky vote outlasts a presence one.
    if old_kind == 'P' and kind == 'S' then
      redis.call('HSET', voters, voter, 'S|' .. choice)
    end
    return {'unchanged'}
  end
  uncount(tally, old_choice)
  previous = old_choice
end
redis.call('HINCRBY', tally, choice, 1)
redis.call('HSET', voters, voter, kind .. '|' .. choice)
return {'counted', previous}
