-- import(prefix, runs): writes a run history (JSON: one object per run,
-- numbered from 1: run, slide, path, open, results, explore, started,
-- label, chosen (JSON), closed = {{decision, {choice, votes, ...}}, ...}) into a prefix
-- that holds no run yet; the last run becomes the current one.
if redis.call('EXISTS', prefix .. 'current') == 1 then
  return {'not_empty'}
end
local runs = cjson.decode(ARGV[2])
local function set(key, field, value)
  if value ~= nil and value ~= cjson.null and value ~= false then
    redis.call('HSET', key, field, tostring(value))
  end
end
for i, r in ipairs(runs) do
  local run = tostring(i)
  local state = run_key(run, 'state')
  redis.call('HSET', state, 'slide', r.slide, 'path', r.path)
  set(state, 'open', r.open)
  if r.results then set(state, 'results', '1') end
  if r.explore then set(state, 'explore', '1') end
  set(state, 'started', r.started)
  set(state, 'label', r.label)
  set(state, 'chosen', r.chosen)
  for _, c in ipairs(r.closed) do
    redis.call('RPUSH', run_key(run, 'closed'), c[1])
    local tally = c[2]
    for j = 1, #tally, 2 do
      redis.call('HSET', run_key(run, 'frozen:' .. c[1]), tally[j], tally[j + 1])
    end
  end
end
redis.call('SET', prefix .. 'current', tostring(#runs))
return {'ok', #runs}
