-- audit(prefix, run, decision, repair): recounts the votes on `decision` in
-- `run` from its voter records and compares every counter with them: the
-- live tally, and the frozen tally when the vote is closed. Returns
-- {part, choice, counted, recorded, ...} for each counter that differs
-- (`counted` as stored, '' when absent). With repair '1', the differing
-- counters are rewritten from the records in this same atomic step.
local run, decision, repair = ARGV[2], ARGV[3], ARGV[4] == '1'
local recorded = {}
local records = redis.call('HGETALL', run_key(run, 'voters:' .. decision))
for i = 2, #records, 2 do
  local _, choice = parse_voter_record(records[i])
  recorded[choice] = (recorded[choice] or 0) + 1
end
local drift = {}
local function check(part)
  local key = run_key(run, part .. ':' .. decision)
  local counted = {}
  local flat = redis.call('HGETALL', key)
  for i = 1, #flat, 2 do
    counted[flat[i]] = flat[i + 1]
  end
  local bad = false
  local choices = {}
  for choice in pairs(counted) do choices[choice] = true end
  for choice in pairs(recorded) do choices[choice] = true end
  for choice in pairs(choices) do
    local want = recorded[choice] or 0
    local have = counted[choice]
    if tonumber(have or '0') ~= want then
      table.insert(drift, {part, choice, have or '', want})
      bad = true
    end
  end
  if bad and repair then
    redis.call('DEL', key)
    for choice, n in pairs(recorded) do
      redis.call('HSET', key, choice, n)
    end
  end
end
check('tally')
local open = is_current(run) and redis.call('HGET', run_key(run, 'state'), 'open') == decision
if not open and redis.call('EXISTS', run_key(run, 'frozen:' .. decision)) == 1 then
  check('frozen')
end
return drift
