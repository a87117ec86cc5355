-- withdraw_absent(prefix, run, decision, instance, grace_ms, cursor, count):
-- withdraws the presence votes on the open decision of every voter who is
-- not present: held by no live instance (see arrive.lua) and without a
-- running lease (keep_present, leave). Sticky votes stay; a closed
-- decision is frozen.
--
-- An instance whose lease ran out is reaped first: it no longer holds its
-- voters, who get a lease of `grace_ms` as if their pages had just closed
-- (a page that reconnected elsewhere meanwhile keeps its vote). They are
-- noted in `orphans` with the reaped instance's id, and when such a
-- voter's vote is withdrawn it is kept aside under `reaped:<decision>`
-- with that id, so that the instance can give it back (rejoin.lua) if it
-- was only stalled and the page is still open there.
--
-- `instance` ('' for none) is the caller: it is alive, since it runs this,
-- so it is never reaped here; and if it was reaped already (stalled, and
-- not rejoined yet), it withdraws nothing: its own voters are missing from
-- its set until it rejoins.
--
-- One sweep is a walk over the decision's presence voters (the set
-- `present:<decision>`, see present_key in common.lua) in steps, one call
-- each, so that Redis never waits long on it (a vote runs between two
-- steps): each call walks one `SSCAN <present> <cursor> COUNT <count>` step
-- and returns {withdrawn, next_cursor}; the caller starts with cursor '0'
-- and calls again with the returned cursor until it is '0'. Sticky votes
-- are not in the set, so they cost the sweep nothing. So:
-- - the once-a-sweep work (reaping, trimming the leases that ran out) is
--   done by the first step (cursor '0'); the checks that the decision is
--   open and that the caller was not reaped are made by every step, and a
--   step that fails them ends the sweep (returns cursor '0');
-- - each voter's check and withdrawal is atomic within its step; leases
--   are compared with the clock, not only trimmed, since one may run out
--   between two steps; an instance whose lease runs out during the walk
--   still holds its voters until the next sweep reaps it;
-- - each member's record is read in the step: a member whose record is
--   gone or sticky leaves the set and counts nothing;
-- - SSCAN may return a member twice (and misses members added during the
--   walk, which the next sweep sees): a vote is counted off only by the
--   HDEL that removed its record, so a second visit withdraws nothing;
-- - orphans are settled by the step that ends the walk.
--
-- A decision not indexed yet (no `indexed:<decision>`: its records were
-- written by an older cyoa, which kept no set) is walked once over its
-- records instead, `HSCAN <voters>` in the same steps, with cursors
-- marked 'h': each step adds the presence votes it meets to the set and
-- sweeps them, and the step that ends that walk marks the decision
-- indexed, so later sweeps walk the set only. A record added during that
-- walk went through cast(), which keeps the set.
local run, decision, me = ARGV[2], ARGV[3], ARGV[4] or ''
local grace = tonumber(ARGV[5] or '0')
local cursor = ARGV[6] or '0'
local count = ARGV[7] or '256'
if not is_open(run, decision) then
  return {0, '0'}
end
local instances = prefix .. 'instances'
if me ~= '' and not redis.call('ZSCORE', instances, me) then
  return {0, '0'}
end
local now = now_ms()
local leases = prefix .. 'presence'
local orphans = prefix .. 'orphans'
if cursor == '0' then
  for _, dead in ipairs(redis.call('ZRANGEBYSCORE', instances, '-inf', '(' .. now)) do
    if dead ~= me then
      for _, voter in ipairs(redis.call('SMEMBERS', instance_key(dead))) do
        redis.call('ZADD', leases, 'GT', now + grace, voter)
        redis.call('HSET', orphans, voter, dead)
      end
      redis.call('DEL', instance_key(dead))
      redis.call('ZREM', instances, dead)
    end
  end
  redis.call('ZREMRANGEBYSCORE', leases, '-inf', now)
end
local live = redis.call('ZRANGE', instances, 0, -1)
local function held(voter)
  for _, instance in ipairs(live) do
    if redis.call('SISMEMBER', instance_key(instance), voter) == 1 then
      return true
    end
  end
  return false
end
-- Whether the voter's own lease still runs (one trimmed by the first step
-- is gone; one that ran out since is still there, with its end).
local function leased(voter)
  local until_ms = redis.call('ZSCORE', leases, voter)
  return until_ms and tonumber(until_ms) > now
end
local voters = run_key(run, 'voters:' .. decision)
local tally = run_key(run, 'tally:' .. decision)
local reaped = run_key(run, 'reaped:' .. decision)
local present = present_key(run, decision)
local indexed = indexed_key(run, decision)
local withdrawn = 0
-- Withdraws `voter`'s vote, its record `record`, if it is a presence vote
-- and the voter is absent; a member of the set whose record is gone or
-- sticky leaves the set.
local function sweep(voter, record)
  local kind, choice = nil, nil
  if record then
    kind, choice = parse_voter_record(record)
  end
  if kind ~= 'P' then
    redis.call('SREM', present, voter)
  elseif not leased(voter) and not held(voter) then
    -- Only the HDEL that removed the record counts it off: a voter the walk
    -- returned twice is withdrawn once.
    if redis.call('HDEL', voters, voter) == 1 then
      redis.call('SREM', present, voter)
      uncount(tally, choice)
      local by = redis.call('HGET', orphans, voter)
      if by then
        redis.call('HSET', reaped, voter, reaped_record(by, record))
      end
      withdrawn = withdrawn + 1
    end
  end
end
local next_cursor
if string.sub(cursor, 1, 1) == 'h' or (cursor == '0' and redis.call('EXISTS', indexed) == 0) then
  -- Indexing the records of an older cyoa, once (see above).
  local scan = cursor == '0' and '0' or string.sub(cursor, 2)
  local step = redis.call('HSCAN', voters, scan, 'COUNT', count)
  local records = step[2]
  for i = 1, #records, 2 do
    local voter, record = records[i], records[i + 1]
    if parse_voter_record(record) == 'P' then
      redis.call('SADD', present, voter)
      sweep(voter, record)
    end
  end
  if step[1] == '0' then
    redis.call('SET', indexed, '1')
    next_cursor = '0'
  else
    next_cursor = 'h' .. step[1]
  end
else
  local step = redis.call('SSCAN', present, cursor, 'COUNT', count)
  for _, voter in ipairs(step[2]) do
    sweep(voter, redis.call('HGET', voters, voter))
  end
  next_cursor = step[1]
end
if next_cursor == '0' then
  -- An orphan is settled once its lease ran out or an instance holds it;
  -- but one whose lease ran out after its record was walked, and whose
  -- presence vote therefore still stands, stays an orphan until the next
  -- sweep withdraws that vote and keeps it aside. A single HGETALL, not a
  -- walk: it runs once a sweep, and `orphans` is rare and small (empty but
  -- for the voters of an instance reaped within about a grace).
  local flat = redis.call('HGETALL', orphans)
  for i = 1, #flat, 2 do
    local voter = flat[i]
    if held(voter) then
      redis.call('HDEL', orphans, voter)
    elseif not leased(voter) then
      local record = redis.call('HGET', voters, voter)
      if not record or parse_voter_record(record) ~= 'P' then
        redis.call('HDEL', orphans, voter)
      end
    end
  end
end
return {withdrawn, next_cursor}
