-- move_to(prefix, run, from, slide, path, chosen): moves the presenter of
-- the current run to `slide` (with `path`, JSON) only if the run's path is
-- still `from` (JSON, as the caller read it): a compare-and-set, so two
-- presenter screens on two instances cannot interleave a read and a write.
-- `chosen` (JSON), unless '', replaces how the run went on from its
-- decisions in the same step. Returns the state, or {'moved'} when the
-- path changed meanwhile.
local run = ARGV[2]
if not is_current(run) then
  return {'not_current'}
end
local state = run_key(run, 'state')
if redis.call('HGET', state, 'path') ~= ARGV[3] then
  return {'moved'}
end
redis.call('HSET', state, 'slide', ARGV[4], 'path', ARGV[5])
if ARGV[6] ~= '' then
  redis.call('HSET', state, 'chosen', ARGV[6])
end
return state_reply(run)
