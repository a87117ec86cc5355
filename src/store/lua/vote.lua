-- vote(prefix, run, decision, voter, choice, kind[, lease_ms]): casts or
-- moves the voter's vote on the open decision. kind is 'P' (presence) or 'S'
-- (sticky); see cast() in common.lua. With lease_ms (a page without
-- JavaScript), the voter's presence lease is lengthened to that from now
-- first, as keep_present.lua does, even if the vote is refused.
local run, decision, voter, choice, kind = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
if ARGV[7] then
  redis.call('ZADD', prefix .. 'presence', 'GT', now_ms() + tonumber(ARGV[7]), voter)
end
local refusal = refused(run, decision)
if refusal then
  return refusal
end
return cast(run, decision, voter, choice, kind)
