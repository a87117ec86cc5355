-- history(prefix, first, last): runs first..last (last 0: up to the current
-- run), each {run, slide, path, open, results, explore, started, label, chosen, deadline, {decision,
-- {choice, votes, ...}, ...}}
-- with its closed decisions in order and their frozen tallies.
local current = tonumber(redis.call('GET', prefix .. 'current') or '0')
local first, last = tonumber(ARGV[2]), tonumber(ARGV[3])
if last == 0 or last > current then
  last = current
end
local runs = {}
for n = math.max(first, 1), last do
  local run = tostring(n)
  local s = run_state(run)
  local closed = {}
  for _, decision in ipairs(redis.call('LRANGE', run_key(run, 'closed'), 0, -1)) do
    table.insert(closed, decision)
    table.insert(closed, redis.call('HGETALL', run_key(run, 'frozen:' .. decision)))
  end
  table.insert(runs, {n, s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9], closed})
end
return runs
