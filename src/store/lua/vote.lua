-- vote(prefix, run, decision, voter, choice, kind): casts or moves the
-- voter's vote on the open decision. kind is 'P' (presence) or 'S' (sticky);
-- see cast() in common.lua.
local run, decision, voter, choice, kind = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
if not is_current(run) then
  return {'not_current'}
end
if redis.call('HGET', run_key(run, 'state'), 'open') ~= decision then
  return {'not_open'}
end
return cast(run, decision, voter, choice, kind)
