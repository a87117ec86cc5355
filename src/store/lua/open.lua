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
-- A decision without voter records has its presence set complete from
-- here on (see indexed_key in common.lua); one with records (reopened)
-- keeps what it has: indexed already, or records of an older cyoa that
-- the first sweep indexes.
if redis.call('EXISTS', run_key(run, 'voters:' .. decision)) == 0 then
  redis.call('SET', indexed_key(run, decision), '1')
end
return state_reply(run)
