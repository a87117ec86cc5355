-- set_label(prefix, run, label): names any run (not only the current one);
-- an empty label removes the name.
local run, label = ARGV[2], ARGV[3]
if not is_run(run) then
  return {'no_run'}
end
if label == '' then
  redis.call('HDEL', run_key(run, 'state'), 'label')
else
  redis.call('HSET', run_key(run, 'state'), 'label', label)
end
return state_reply(run)
