-- close(prefix, run, decision): closes the vote on `decision` if it is the
-- open one, freezing its tally; returns the tally (a flat choice, votes list).
local run, decision = ARGV[2], ARGV[3]
if not is_current(run) then
  return {'not_current'}
end
if redis.call('HGET', run_key(run, 'state'), 'open') == decision then
  close_vote(run, decision)
end
return {'ok', redis.call('HGETALL', run_key(run, 'tally:' .. decision))}
