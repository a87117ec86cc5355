-- sweep_turn(prefix, instance, ms): whether `instance` sweeps now. The walk
-- of the presence voters (withdraw_absent.lua) is the same whoever makes
-- it, so with several instances one walks it at a time: the holder of the
-- turn. Taking or keeping the turn sets it to run `ms` from now; the
-- holder keeps it by sweeping, and when it stops (killed, stalled, its
-- heartbeat late) the turn runs out and the next instance to ask takes it.
-- Returns 1 when `instance` holds the turn now, else 0.
local key = prefix .. 'sweeper'
local me = ARGV[2]
local holder = redis.call('GET', key)
if holder and holder ~= me then
  return 0
end
redis.call('SET', key, me, 'PX', tonumber(ARGV[3]))
return 1
