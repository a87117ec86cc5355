-- audit(prefix, run, decision, repair): recounts the votes on `decision` in
-- `run` from its voter records and compares every counter with them: the
-- live tally, and the frozen tally when the vote is closed. Returns
-- {part, choice, counted, recorded, ...} for each counter that differs
-- (`counted` as stored, '' when absent). With repair '1', the differing
-- counters are rewritten from the records in this same atomic step.
--
-- The presence set (`present:<decision>`, see present_key in common.lua)
-- of an indexed decision is checked too: it must hold exactly the voters
-- whose record is a presence vote. When it does not, the reply holds
-- {'present', '', members of the set, presence votes in the records}, and
-- repair rebuilds the set from the records. A decision not indexed yet
-- (records of an older cyoa) is left to its first sweep, which indexes it.
local run, decision, repair = ARGV[2], ARGV[3], ARGV[4] == '1'
local recorded = {}
local presence = {}
local presence_votes = 0
local records = redis.call('HGETALL', run_key(run, 'voters:' .. decision))
for i = 2, #records, 2 do
  local kind, choice = parse_voter_record(records[i])
  recorded[choice] = (recorded[choice] or 0) + 1
  if kind == 'P' then
    presence[records[i - 1]] = true
    presence_votes = presence_votes + 1
  end
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
local present = present_key(run, decision)
if redis.call('EXISTS', indexed_key(run, decision)) == 1 then
  local members = redis.call('SMEMBERS', present)
  local agree = #members == presence_votes
  for _, voter in ipairs(members) do
    if not presence[voter] then
      agree = false
    end
  end
  if not agree then
    table.insert(drift, {'present', '', tostring(#members), presence_votes})
    if repair then
      redis.call('DEL', present)
      for voter in pairs(presence) do
        redis.call('SADD', present, voter)
      end
    end
  end
end
return drift
