-- sms_vote(prefix, run, decision, voter, choice, sid, ttl_ms): a text's
-- sticky vote and the mark of its delivery (Twilio's MessageSid), in one
-- step: {'counted', previous or false} or {'unchanged'} (see cast() in
-- common.lua), the delivery marked for ttl_ms. A delivery marked before is
-- not counted again: {'again', the voter's current choice or false}. A run
-- that is not current or a decision that is not open changes nothing.
--
-- The mark is written last: Redis does not undo a script's writes when a
-- later command fails, and a mark without its vote would make Twilio's
-- retry count nothing.
local run, decision, voter, choice, sid, ttl = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local refusal = refused(run, decision)
if refusal then
  return refusal
end
local mark = prefix .. 'sms:' .. sid
if redis.call('EXISTS', mark) == 1 then
  local record = redis.call('HGET', run_key(run, 'voters:' .. decision), voter)
  if not record then
    return {'again', false}
  end
  local _, current = parse_voter_record(record)
  return {'again', current}
end
local reply = cast(run, decision, voter, choice, 'S')
redis.call('SET', mark, '1', 'PX', ttl)
return reply
