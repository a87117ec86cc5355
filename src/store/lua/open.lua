-- open(prefix, run, decision): opens the vote on `decision` unless another
-- one is open; opening the open one again changes nothing.
local run, decision = ARGV[2], ARGV[3]
if not is_current(run) then
  return {'not_current'}
end
local state = run_key(run, 'state')
local open = redis.call('HGET', state, 'open')
if open and open ~= decision then
  return {'other_open', open}
end
redis.call('HSET', state, 'open', decision)
return state_reply(run)
