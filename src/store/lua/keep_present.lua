-- keep_present(prefix, ms, voter...): these voters have an audience page
-- open; their presence votes stand until at least `ms` milliseconds from
-- now (Redis's clock). A lease is only ever lengthened (ZADD GT).
local leases = prefix .. 'presence'
local until_ms = now_ms() + tonumber(ARGV[2])
for i = 3, #ARGV do
  redis.call('ZADD', leases, 'GT', until_ms, ARGV[i])
end
return #ARGV - 2
