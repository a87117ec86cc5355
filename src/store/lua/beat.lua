-- beat(prefix, instance, ms): the instance is alive; its lease runs `ms`
-- from now. Returns 0, renewing nothing, when the instance holds no lease
-- (another instance reaped it while it stalled, or it never joined): it
-- must rejoin (rejoin.lua) with the voters it serves.
local instances = prefix .. 'instances'
local me = ARGV[2]
if not redis.call('ZSCORE', instances, me) then
  return 0
end
redis.call('ZADD', instances, now_ms() + tonumber(ARGV[3]), me)
return 1
