-- countdown(prefix, run, decision, change, ms): the countdown of the open
-- vote on `decision` in the current run, by Redis's clock. `change` is
-- 'start' (it ends `ms` from now), 'extend' (`ms` more, from now if it ran
-- out already; nothing when none runs) or 'cancel'. Returns the state, or
-- {'not_current'} / {'not_open'}.
local run, decision, change, length = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
if not is_current(run) then
  return {'not_current'}
end
local state = run_key(run, 'state')
if redis.call('HGET', state, 'open') ~= decision then
  return {'not_open'}
end
if change == 'start' then
  redis.call('HSET', state, 'deadline', string.format('%d', now_ms() + length))
elseif change == 'extend' then
  local deadline = tonumber(redis.call('HGET', state, 'deadline') or '')
  if deadline then
    redis.call('HSET', state, 'deadline', string.format('%d', math.max(deadline, now_ms()) + length))
  end
else
  redis.call('HDEL', state, 'deadline')
end
return state_reply(run)
