-- vote(prefix, run, decision, voter, choice, kind): casts or moves the
-- voter's vote on the open decision. kind is 'P' (presence) or 'S' (sticky);
-- see cast() in common.lua.
local run, decision, voter, choice, kind = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local refusal = refused(run, decision)
if refusal then
  return refusal
end
return cast(run, decision, voter, choice, kind)
