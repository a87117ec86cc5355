-- now(prefix, start, path, identity, voter, decision...): where the current
-- run stands for one page or socket, in one step: {'ok', the run's record
-- (as run_record), the open vote's live tally {choice, votes, ...} (empty
-- when none is open), {decision, voter record or false, ...}}, the last
-- with `voter`'s record on the open vote, on the slide shown (read as a
-- decision) and on each decision named, each once (nothing when voter is
-- ''). Begins run 1 at `start` if there is no run yet, and answers
-- {'lost', found}, as current.lua.
local run, gone = current_run(ARGV[2], ARGV[3], ARGV[4])
if not run then
  return gone
end
local record = run_record(run)
local open, slide = record[4], record[2]
local tally = {}
if open then
  tally = redis.call('HGETALL', run_key(run, 'tally:' .. open))
end
local choices = {}
local voter = ARGV[5]
if voter ~= '' then
  local asked = {}
  local function ask(decision)
    if decision and not asked[decision] then
      asked[decision] = true
      table.insert(choices, decision)
      table.insert(choices, redis.call('HGET', run_key(run, 'voters:' .. decision), voter))
    end
  end
  ask(open)
  ask(slide)
  for i = 6, #ARGV do
    ask(ARGV[i])
  end
end
return {'ok', record, tally, choices}
