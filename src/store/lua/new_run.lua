-- new_run(prefix, start, path): closes the current run's open vote, if
-- any, then begins the next run at `start`.
local old = redis.call('GET', prefix .. 'current')
if old then
  local open = redis.call('HGET', run_key(old, 'state'), 'open')
  if open then
    close_vote(old, open)
  end
end
return state_reply(begin_run(ARGV[2], ARGV[3]))
