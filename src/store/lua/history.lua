-- history(prefix, first, last): runs first..last (last 0: up to the current
-- run), each as run_record replies it.
local current = tonumber(redis.call('GET', prefix .. 'current') or '0')
local first, last = tonumber(ARGV[2]), tonumber(ARGV[3])
if last == 0 or last > current then
  last = current
end
local runs = {}
for n = math.max(first, 1), last do
  table.insert(runs, run_record(tostring(n)))
end
return runs
