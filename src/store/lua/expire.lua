-- expire(prefix, run, decision, deadline): closes the vote on `decision`
-- because its countdown ran out, only if `run` is still the current run,
-- `decision` still open and its deadline still `deadline` (ms, as the
-- caller read it). Returns 1 when this call closed it, else 0: of every
-- instance whose timer fires for one deadline, one closes the vote.
local run, decision, deadline = ARGV[2], ARGV[3], tonumber(ARGV[4])
if not is_open(run, decision) then
  return 0
end
local set = tonumber(redis.call('HGET', run_key(run, 'state'), 'deadline') or '')
if not set or set ~= deadline then
  return 0
end
close_vote(run, decision)
return 1
