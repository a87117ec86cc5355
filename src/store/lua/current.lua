-- current(prefix, start, path, identity): the current run's state,
-- beginning run 1 at `start` if there is no run yet; {'lost', found} when
-- the store is not the one `identity` names.
local gone = lost(ARGV[4])
if gone then
  return gone
end
local run = redis.call('GET', prefix .. 'current')
if not run then
  run = begin_run(ARGV[2], ARGV[3])
end
return state_reply(run)
