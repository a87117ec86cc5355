-- Shared by every cyoa vote store script (prepended to each one).
-- ARGV[1] is always the key prefix; every key is built from it here.
local prefix = ARGV[1]

-- The key of one part of a run: state, closed, tally:<decision>, ...
local function run_key(run, part)
  return prefix .. 'run:' .. run .. ':' .. part
end

-- The set of voters an instance serves (see arrive.lua).
local function instance_key(instance)
  return prefix .. 'instance:' .. instance
end

-- nil when the store still holds the data this instance has been using
-- (its identity key is `expected`, or the caller keeps none: ''), else the
-- reply {'lost', the identity found or false}: Redis came back without its
-- data, and the scripts that could begin a run refuse rather than quietly
-- start the talk over.
local function lost(expected)
  if expected == '' then
    return nil
  end
  local found = redis.call('GET', prefix .. 'identity')
  if found == expected then
    return nil
  end
  return {'lost', found}
end

-- Whether `run` (a decimal string) is the current run.
local function is_current(run)
  return redis.call('GET', prefix .. 'current') == run
end

-- Whether `run` (a decimal string) names a run that has begun: the current
-- one or an earlier one.
local function is_run(run)
  local n = tonumber(run)
  local current = tonumber(redis.call('GET', prefix .. 'current') or '0')
  return n ~= nil and n >= 1 and n <= current and n == math.floor(n)
end

-- A run's state: slide, path, open, results, explore, started, label,
-- chosen (JSON: how the run went on from each decision; nil when unset),
-- deadline (ms, Redis's clock: when the open vote's countdown ends; nil
-- when none runs).
local function run_state(run)
  return redis.call('HMGET', run_key(run, 'state'), 'slide', 'path', 'open', 'results', 'explore', 'started',
    'label', 'chosen', 'deadline')
end

-- A run's record, as history.lua and now.lua reply it: {run, slide, path,
-- open, results, explore, started, label, chosen, deadline, {decision,
-- {choice, votes, ...}, ...}}, its closed decisions in the order they
-- closed, each with its frozen tally.
local function run_record(run)
  local s = run_state(run)
  local closed = {}
  for _, decision in ipairs(redis.call('LRANGE', run_key(run, 'closed'), 0, -1)) do
    table.insert(closed, decision)
    table.insert(closed, redis.call('HGETALL', run_key(run, 'frozen:' .. decision)))
  end
  return {tonumber(run), s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9], closed}
end

-- The reply of the scripts that return a run's state.
local function state_reply(run)
  local s = run_state(run)
  return {'ok', tonumber(run), s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9]}
end

-- Whether `decision` is the open vote of the current run `run`.
local function is_open(run, decision)
  return is_current(run) and redis.call('HGET', run_key(run, 'state'), 'open') == decision
end

-- Takes one vote for `choice` off a tally; never below zero, whatever the
-- data says.
local function uncount(tally, choice)
  if tonumber(redis.call('HGET', tally, choice) or '0') > 0 then
    redis.call('HINCRBY', tally, choice, -1)
  end
end

-- A voter record, the value kept for each voter in `voters:<decision>`:
-- '<kind>|<choice>', kind 'P' (presence) or 'S' (sticky). Every script
-- writes and reads it through these two (and cyoa's Rust code through
-- `decode::voter_record`), never by hand.
local function voter_record(kind, choice)
  return kind .. '|' .. choice
end

-- The kind and the choice of a voter record.
local function parse_voter_record(record)
  return string.sub(record, 1, 1), string.sub(record, 3)
end

-- The set of the voters whose vote on `decision` is a presence vote: the
-- presence sweep walks it (withdraw_absent.lua), not the voter records, so
-- sticky votes cost the sweep nothing. Every script that writes or deletes
-- a voter record keeps it in the same step (note_kind, and an SREM where a
-- record goes); audit.lua checks it against the records.
local function present_key(run, decision)
  return run_key(run, 'present:' .. decision)
end

-- Set to '1' once `present:<decision>` holds every presence vote on the
-- decision: at open.lua for a decision without records, or by the first
-- sweep's walk of the records for one whose records an older cyoa (which
-- kept no set) wrote; see withdraw_absent.lua.
local function indexed_key(run, decision)
  return run_key(run, 'indexed:' .. decision)
end

-- Keeps the presence set right after `voter`'s record on `decision` was
-- written with `kind` ('P' or 'S'); `old_kind` is the kind of the record it
-- replaced (nil for none): a sticky vote that replaced a sticky one costs
-- nothing.
local function note_kind(run, decision, voter, kind, old_kind)
  if kind == 'P' then
    redis.call('SADD', present_key(run, decision), voter)
  elseif old_kind == 'P' then
    redis.call('SREM', present_key(run, decision), voter)
  end
end

-- A presence vote withdrawn from a voter held by a reaped instance, kept
-- aside in `reaped:<decision>` (withdraw_absent.lua) so that the instance
-- can give it back (rejoin.lua): '<instance>|<voter record>'.
local function reaped_record(instance, record)
  return instance .. '|' .. record
end

-- The instance and the voter record of a reaped record; nil for anything
-- else.
local function parse_reaped_record(reaped)
  local bar = string.find(reaped, '|', 1, true)
  if not bar then
    return nil
  end
  return string.sub(reaped, 1, bar - 1), string.sub(reaped, bar + 1)
end

-- Why a vote on `decision` in `run` cannot be taken now, as the reply of
-- a voting script ({'not_current'} or {'not_open'}); nil when it can.
local function refused(run, decision)
  if not is_current(run) then
    return {'not_current'}
  end
  if redis.call('HGET', run_key(run, 'state'), 'open') ~= decision then
    return {'not_open'}
  end
  return nil
end

-- Casts or moves `voter`'s vote for `choice` on `decision`, which the
-- caller checked is open in the current run `run`. kind is 'P' (presence)
-- or 'S' (sticky), kept in the voter's record (voter_record). The live
-- counters change only here (vote.lua, sms_vote.lua), in withdraw.lua,
-- withdraw_absent.lua and rejoin.lua, always together with the voter
-- records and the presence set (present_key), so they stay equal; audit.lua rewrites a counter (live or
-- frozen) from the records only when asked to repair it. Returns
-- {'counted', previous choice or false} or {'unchanged'}.
local function cast(run, decision, voter, choice, kind)
  local voters = run_key(run, 'voters:' .. decision)
  local tally = run_key(run, 'tally:' .. decision)
  local previous = false
  local old_kind = nil
  local old = redis.call('HGET', voters, voter)
  if old then
    local old_choice
    old_kind, old_choice = parse_voter_record(old)
    if old_choice == choice then
      -- The same vote again; a sticky vote outlasts a presence one.
      if old_kind == 'P' and kind == 'S' then
        redis.call('HSET', voters, voter, voter_record('S', choice))
        note_kind(run, decision, voter, 'S', 'P')
      end
      return {'unchanged'}
    end
    uncount(tally, old_choice)
    previous = old_choice
  end
  redis.call('HINCRBY', tally, choice, 1)
  redis.call('HSET', voters, voter, voter_record(kind, choice))
  note_kind(run, decision, voter, kind, old_kind)
  return {'counted', previous}
end

-- Redis's clock in milliseconds: one clock for every cyoa instance.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Closes the open vote on `decision`: no vote counts any more, its
-- countdown stops, and its tally is frozen into the run's history (a
-- decision closed again is moved to the end of the history with its new
-- tally).
local function close_vote(run, decision)
  redis.call('HDEL', run_key(run, 'state'), 'open', 'deadline')
  local closed = run_key(run, 'closed')
  redis.call('LREM', closed, 0, decision)
  redis.call('RPUSH', closed, decision)
  local frozen = run_key(run, 'frozen:' .. decision)
  redis.call('DEL', frozen)
  local tally = redis.call('HGETALL', run_key(run, 'tally:' .. decision))
  if #tally > 0 then
    redis.call('HSET', frozen, unpack(tally))
  end
end

-- Begins the next run at slide `start` (`path` is its JSON path) and makes
-- it the current one, noting when it started (ms, Redis's clock); returns
-- its number as a string.
local function begin_run(start, path)
  local run = tostring(redis.call('INCR', prefix .. 'current'))
  redis.call('HSET', run_key(run, 'state'), 'slide', start, 'path', path, 'started', now_ms())
  return run
end

-- The current run (a decimal string), beginning run 1 at `start` (`path`
-- its JSON path) if there is no run yet; or nil and the reply {'lost',
-- found} when the store is not the one `identity` names (see lost): a
-- store that lost its data begins nothing.
local function current_run(start, path, identity)
  local gone = lost(identity)
  if gone then
    return nil, gone
  end
  local run = redis.call('GET', prefix .. 'current')
  if not run then
    run = begin_run(start, path)
  end
  return run
end

