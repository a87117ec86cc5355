-- current(prefix, start, path): the current run's state, beginning run 1
-- at `start` if there is no run yet.
local run = redis.call('GET', prefix .. 'current')
if not run then
  run = begin_run(ARGV[2], ARGV[3])
end
return state_reply(run)
