-- current(prefix, start, path, identity): the current run's state,
-- beginning run 1 at `start` if there is no run yet; {'lost', found} when
-- the store is not the one `identity` names.
local run, gone = current_run(ARGV[2], ARGV[3], ARGV[4])
if not run then
  return gone
end
return state_reply(run)
