-- leave(prefix, instance, ms, voter): the voter's last audience page on
-- `instance` closed. The instance no longer holds the voter, whose lease
-- now runs `ms` (the grace period) from now: a page that comes back within
-- it, here or elsewhere, keeps the vote.
local voter = ARGV[4]
redis.call('SREM', instance_key(ARGV[2]), voter)
redis.call('ZADD', prefix .. 'presence', 'GT', now_ms() + tonumber(ARGV[3]), voter)
return 1
