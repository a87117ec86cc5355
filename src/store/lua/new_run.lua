-- new_run(prefix, start, path, identity): closes the current run's open
-- vote, if any, then begins the next run at `start`; {'lost', found} when
-- the store is not the one `identity` names.
local gone = lost(ARGV[4])
if gone then
  return gone
end
local old = redis.call('GET', prefix .. 'current')
if old then
  local open = redis.call('HGET', run_key(old, 'state'), 'open')
  if open then
    close_vote(old, open)
  end
end
return state_reply(begin_run(ARGV[2], ARGV[3]))
