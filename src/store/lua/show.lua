-- show(prefix, run, slide, path): moves the presenter of the current run.
local run = ARGV[2]
if not is_current(run) then
  return {'not_current'}
end
redis.call('HSET', run_key(run, 'state'), 'slide', ARGV[3], 'path', ARGV[4])
return state_reply(run)
