-- withdraw_absent(prefix, run, decision): withdraws the presence votes on
-- the open decision of every voter without a running lease (it ran out, or
-- there never was one), drops the leases that ran out, and returns how many
-- votes were withdrawn. Sticky votes stay; a closed decision is frozen.
local run, decision = ARGV[2], ARGV[3]
if not is_open(run, decision) then
  return 0
end
local leases = prefix .. 'presence'
redis.call('ZREMRANGEBYSCORE', leases, '-inf', now_ms())
local voters = run_key(run, 'voters:' .. decision)
local tally = run_key(run, 'tally:' .. decision)
local records = redis.call('HGETALL', voters)
local withdrawn = 0
for i = 1, #records, 2 do
  local voter, record = records[i], records[i + 1]
  if string.sub(record, 1, 1) == 'P' and not redis.call('ZSCORE', leases, voter) then
    uncount(tally, string.sub(record, 3))
    redis.call('HDEL', voters, voter)
    withdrawn = withdrawn + 1
  end
end
return withdrawn
