-- arrive(prefix, instance, ms, voter): the voter opened an audience page on
-- `instance`, which holds the voter while its own lease lasts (see
-- beat.lua). The voter also gets a lease of `ms` from now, which covers an
-- instance that has not joined yet.
local voter = ARGV[4]
redis.call('ZADD', prefix .. 'presence', 'GT', now_ms() + tonumber(ARGV[3]), voter)
redis.call('SADD', instance_key(ARGV[2]), voter)
return 1
