-- set_published(prefix, run, what, on): turns `what` ('results' or
-- 'explore') on ('1') or off ('0') for the audience in any run, current or
-- earlier: a rehearsal's results can be published after the talk.
local run, what, on = ARGV[2], ARGV[3], ARGV[4]
if not is_run(run) then
  return {'no_run'}
end
if what ~= 'results' and what ~= 'explore' then
  return {'bad_field'}
end
if on == '1' then
  redis.call('HSET', run_key(run, 'state'), what, '1')
else
  redis.call('HDEL', run_key(run, 'state'), what)
end
return state_reply(run)
